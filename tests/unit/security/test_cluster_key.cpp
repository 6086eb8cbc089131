// The cluster key's text form, its id, the key ring, and key files on disk.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <set>

#include "chorus/security/cluster_key.hpp"
#include "chorus/security/key_file.hpp"
#include "playback/temp_dir.hpp"

using namespace chorus::security;

namespace {

ClusterKey key_of(unsigned char fill) {
  ClusterKey key;
  key.bytes.fill(fill);
  return key;
}

ClusterKey parsed(std::string_view text) {
  auto result = parse_key_text(text);
  REQUIRE(std::holds_alternative<ClusterKey>(result));
  return std::get<ClusterKey>(result);
}

std::string parse_error(std::string_view text) {
  auto result = parse_key_text(text);
  REQUIRE(std::holds_alternative<KeyTextError>(result));
  return std::get<KeyTextError>(result).message;
}

void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("a key's text is 64 hex digits that parse back to the same key") {
  ClusterKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<unsigned char>(i * 37 + 5);
  auto text = key_text(key);
  CHECK(text.size() == 65);
  CHECK(text.back() == '\n');
  CHECK(parsed(text) == key);
}

TEST_CASE("key text: either case and surrounding whitespace are accepted") {
  std::string digits(64, 'a');
  CHECK(parsed(digits) == key_of(0xaa));
  CHECK(parsed(std::string(64, 'A')) == key_of(0xaa));
  CHECK(parsed("  \t" + std::string(64, 'f') + "\r\n\n") == key_of(0xff));
}

TEST_CASE("key text: wrong lengths and non-hex characters are refused with the reason") {
  CHECK_THAT(parse_error(""), Catch::Contains("64 hex digits") && Catch::Contains("0 characters"));
  CHECK_THAT(parse_error(std::string(63, '0')), Catch::Contains("63 characters"));
  CHECK_THAT(parse_error(std::string(65, '0')), Catch::Contains("65 characters"));
  CHECK_THAT(parse_error(std::string(32, '0') + " " + std::string(31, '0')), Catch::Contains("character 33"));
  for (char bad : {'g', 'G', 'x', '-', '\0', ' ', '\xff'}) {
    for (std::size_t at : {0u, 1u, 31u, 62u, 63u}) {
      if (bad == ' ' && (at == 0 || at == 63)) continue;  // whitespace around the digits is allowed
      std::string text(64, '0');
      text[at] = bad;
      CHECK_THAT(parse_error(text), Catch::Contains("character " + std::to_string(at + 1)));
    }
  }
}

TEST_CASE("a key id is stable, differs between keys and does not show the key") {
  auto a = key_of(1);
  auto b = key_of(2);
  CHECK(a.id() == key_of(1).id());
  CHECK(a.id() != b.id());
  CHECK(to_hex(a.id()).size() == 16);
  CHECK(key_text(a).find(to_hex(a.id())) == std::string::npos);
  std::set<std::string> ids;
  for (int fill = 0; fill < 256; ++fill) ids.insert(to_hex(key_of(static_cast<unsigned char>(fill)).id()));
  CHECK(ids.size() == 256);
}

TEST_CASE("the key ring finds its primary and accepted keys by id, nothing else") {
  KeyRing ring{key_of(1), {key_of(2), key_of(3)}};
  CHECK(ring.find(key_of(1).id()) == key_of(1));
  CHECK(ring.find(key_of(3).id()) == key_of(3));
  CHECK_FALSE(ring.find(key_of(4).id()));
}

TEST_CASE("a generated key file is private, fresh, and loads back") {
  chorus::test::TempDir dir;
  auto path = (dir.path / "cluster.key").string();
  auto key = generate_key_file(path);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);
  CHECK(load_key_file(path) == key);
  auto other = generate_key_file((dir.path / "other.key").string());
  CHECK(other != key);
}

TEST_CASE("an existing file is never overwritten by --gen-key") {
  chorus::test::TempDir dir;
  auto path = (dir.path / "cluster.key").string();
  auto key = generate_key_file(path);
  CHECK_THROWS_WITH(generate_key_file(path), Catch::Contains("exists") && Catch::Contains("never overwritten"));
  CHECK(load_key_file(path) == key);
}

TEST_CASE("a key file others can access is refused, naming the fix") {
  chorus::test::TempDir dir;
  auto path = dir.path / "cluster.key";
  for (mode_t mode : {0640, 0604, 0644, 0660, 0602, 0620, 0601}) {
    write_file(path, std::string(64, '1'), mode);
    CHECK_THROWS_WITH(load_key_file(path.string()),
                      Catch::Contains("accessible by others") && Catch::Contains("chmod 600"));
  }
  write_file(path, std::string(64, '1'), 0400);
  CHECK(load_key_file(path.string()) == key_of(0x11));
}

TEST_CASE("key files that are missing, not regular, or not a key are refused clearly") {
  chorus::test::TempDir dir;
  CHECK_THROWS_WITH(load_key_file((dir.path / "absent").string()), Catch::Contains("cannot open key file"));
  CHECK_THROWS_WITH(load_key_file(dir.path.string()), Catch::Contains("not a regular file"));
  auto path = dir.path / "short.key";
  write_file(path, "abc\n", 0600);
  CHECK_THROWS_WITH(load_key_file(path.string()), Catch::Contains("64 hex digits"));
  write_file(path, std::string(10000, '0'), 0600);
  CHECK_THROWS_WITH(load_key_file(path.string()), Catch::Contains("64 hex digits"));
}
