# Writes a placeholder chorus-node(1) around `node --help`, for builds without the man page
# generated from the option table. cmake -DNODE=... -DOUTPUT=... -DVERSION=... -P this file.
execute_process(COMMAND ${NODE} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NODE} --help failed (${rc})")
endif()
string(REPLACE "${NODE}" "chorus-node" help "${help}")
# roff: a backslash starts an escape and a leading dot or quote a request.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
file(WRITE ${OUTPUT} ".TH CHORUS-NODE 1 \"\" \"chorus ${VERSION}\" \"User Commands\"
.SH NAME
chorus-node \\- a node of a chorus cluster: synchronized audio playback across hosts
.SH SYNOPSIS
.B chorus-node
[\\fIHOST\\fR [\\fIPORT\\fR]] [\\fIOPTIONS\\fR]
.SH DESCRIPTION
Installed as a systemd service, chorus-node runs as the unit chorus-node.service, configured in
/etc/chorus/chorus.toml.
.SH OPTIONS
.nf
${help}.fi
.SH SEE ALSO
systemctl(1), journalctl(1)
")
