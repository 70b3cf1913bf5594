#!/bin/bash
# SPDX-License-Identifier: ISC
# t_chattty.sh: the chat client on a terminal (libedit in callback mode),
# driven through tmux: lines typed while messages arrive are sent once,
# incoming messages print as "[sender] text", EOF (Ctrl-D) leaves.
. "$(dirname "$0")/lib.sh"
ns_setup
start_svc || exit 1
command -v tmux >/dev/null || { not_ok "tmux is needed (make deps)"; finish; exit 1; }
TM=(tmux -L "bart$$" -f /dev/null)
# The tmux server is ours: stopped by PID at the end, like everything.
"${TM[@]}" new-session -d -s chat -x 100 -y 20 \
    "$BIN/bart_clnt localhost chat alice; echo exit=\$?; sleep 30"
track "$("${TM[@]}" display-message -p -t chat '#{pid}')"
screen() { "${TM[@]}" capture-pane -p -t chat; }
has() { screen | grep -qF -- "$1"; }
history() { clnt localhost history -n 50 | sed 's/^[^[]*//'; }

wait_for 10 has "joined the chat as alice" && ok "joined on a terminal" ||
    { not_ok "joined on a terminal"; screen | sed 's/^/#   /'; }
# The status line alone on its line, the prompt drawn again below it
# (it was "> bart_clnt: joined the chat as alice", and no prompt after).
prompted() { [ "$(screen | sed -n 2p)" = ">" ]; }
wait_for 3 prompted
expect_eq "the status line, then the prompt on a line of its own" \
    "$(printf '%s\n' "bart_clnt: joined the chat as alice" ">")" \
    "$(screen | head -2)"
clnt localhost say bob "hello alice" >/dev/null
wait_for 5 has "[bob] hello alice" && ok "pushed message shown" ||
    not_ok "pushed message shown"
# Half a line typed, a message arrives, the rest typed: one line sent.
"${TM[@]}" send-keys -t chat "half a"
sleep 0.3
clnt localhost say bob "while alice types" >/dev/null
wait_for 5 has "[bob] while alice types" || not_ok "message while typing shown"
"${TM[@]}" send-keys -t chat " line" Enter
wait_for 5 has "[alice] half a line" && ok "typed line sent and echoed back" ||
    { not_ok "typed line sent and echoed back"; screen | sed 's/^/#   /'; }
"${TM[@]}" send-keys -t chat "second" Enter
wait_for 5 has "[alice] second" || not_ok "second line echoed back"
expect_eq "history: every line once, in order" \
    "$(printf '%s\n' "[bob] hello alice" "[bob] while alice types" \
    "[alice] half a line" "[alice] second")" "$(history)"
"${TM[@]}" send-keys -t chat C-d
wait_for 5 has "exit=0" && ok "Ctrl-D leaves with exit 0" ||
    { not_ok "Ctrl-D leaves with exit 0"; screen | sed 's/^/#   /'; }
"${TM[@]}" kill-server 2>/dev/null
finish
