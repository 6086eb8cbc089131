"""Drives the MPD server with python-mpd2 (Debian's python3-mpd), as test_clients.cpp asks.

usage: python_client.py PORT [PASSWORD]
Prints IDLING when it waits in idle (the test then makes a change), ALL OK at the end; any
failed expectation raises (exit status 1).
"""

import sys

import mpd


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    port = int(sys.argv[1])
    password = sys.argv[2] if len(sys.argv) > 2 else None
    client = mpd.MPDClient()
    client.timeout = 5
    client.connect("127.0.0.1", port)
    expect(client.mpd_version == "0.23.5", f"version {client.mpd_version}")
    if password:
        try:
            client.status()
            raise AssertionError("status ran without the password")
        except mpd.CommandError as error:
            expect("permission" in str(error), f"refusal: {error}")
        client.password(password)

    status = client.status()
    expect(status["state"] == "pause", f"status {status}")
    expect(status["playlistlength"] == "2", f"status {status}")
    expect(status["songid"] == "9", f"status {status}")
    expect(status["elapsed"] == "30.500", f"status {status}")

    songs = client.playlistinfo()
    expect([song["id"] for song in songs] == ["7", "9"], f"playlistinfo {songs}")
    expect(songs[0]["title"] == "One" and songs[0]["pos"] == "0", f"playlistinfo {songs}")

    song_id = client.addid("loose.wav")
    expect(song_id == "100", f"addid {song_id}")
    expect(len(client.playlistinfo()) == 3, "the added song is in the queue")

    outputs = client.outputs()
    expect([o["outputname"] for o in outputs] == ["node-a", "node-b"], f"outputs {outputs}")
    expect([o["outputenabled"] for o in outputs] == ["1", "0"], f"outputs {outputs}")
    client.enableoutput(1)
    expect(client.outputs()[1]["outputenabled"] == "1", "output 1 enabled")

    expect(client.list("artist") == [{"artist": "Artist A"}, {"artist": "Artist B"}]
           or client.list("artist") == ["Artist A", "Artist B"], "list artist")
    found = client.find("artist", "Artist B")
    expect([song["file"] for song in found] == ["Artist B/three.ogg"], f"find {found}")
    found = client.search("(title contains 'o')")
    expect(len(found) == 2, f"search {found}")
    expect(client.lsinfo("")[0] == {"directory": "Artist A"}, "lsinfo")

    client.command_list_ok_begin()
    client.setvol(20)
    client.status()
    results = client.command_list_end()
    expect(results[1]["volume"] == "20", f"command list {results}")

    try:
        client.playid(12345)
        raise AssertionError("playid of no item ran")
    except mpd.CommandError as error:
        expect("No such" in str(error) or "no such" in str(error), f"playid: {error}")

    # the changes made above are answered at once (setvol: mixer, enableoutput: output) ...
    changed = client.idle()
    expect("mixer" in changed and "output" in changed, f"idle after changes {changed}")
    # ... then idle waits for the test's change
    print("IDLING", flush=True)
    changed = client.idle("mixer")
    expect(changed == ["mixer"], f"idle {changed}")

    client.close()
    client.disconnect()
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()
