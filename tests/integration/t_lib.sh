#!/bin/bash
# SPDX-License-Identifier: ISC
# t_lib.sh: libbart as installed (exports, soname, bart.pc from a DESTDIR
# tree, the examples against a real daemon), bart_clnt's JSON output and
# option syntax, escaping of what a server sends, the CLI quirks, the
# error words, and `health` as a monitoring plugin (full disk: 2).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ns_setup
start_svc -v || exit 1
command -v jq >/dev/null || { not_ok "jq is needed"; finish; exit 1; }
jqf() { jq -r "$1" <"$T/out"; }

# --- the library as built and installed ----------------------------------
if [ -f "$BIN/libbart.so.0.1" ] && [ -f "$BIN/libbart.a" ]; then
	bad=$(nm -D --defined-only "$BIN/libbart.so.0.1" | awk '{print $3}' |
	    grep -v '^LIBBART_0$' | grep -v '^bart_[a-z_]*@@LIBBART_0$')
	expect_eq "nm -D: libbart.so exports only bart_* (version LIBBART_0)" "" "$bad"
	n=$(nm -D --defined-only "$BIN/libbart.so.0.1" | grep -c ' T bart_')
	echo "# exported: $n functions"
	expect_eq "soname libbart.so.0" "libbart.so.0" \
	    "$(readelf -d "$BIN/libbart.so.0.1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
	bad=$(nm "$BIN/libbart.a" | awk 'NF == 3 && $2 ~ /[A-Z]/ && $2 != "U" {print $3}' |
	    grep -v '^bart_')
	expect_eq "libbart.a defines only bart_* globally" "" "$bad"
fi
if [ -f "$BIN/destdir/.stamp" ]; then
	DEST=$BIN/destdir
	for f in usr/local/include/bart.h usr/local/include/rpcsvc/bart.x \
	    usr/local/include/rpcsvc/bart.h usr/local/lib/libbart.so.0.1 \
	    usr/local/lib/libbart.so.0 usr/local/lib/libbart.so \
	    usr/local/lib/libbart.a usr/local/lib/pkgconfig/bart.pc \
	    usr/local/share/man/man3/libbart.3; do
		[ -e "$DEST/$f" ] || not_ok "installed: $f"
	done
	ok "make install DESTDIR: header, rpcsvc/bart.x + .h, libs, bart.pc, man 3"
	# A user's build: nothing but pkg-config against the DESTDIR copy.
	# The DESTDIR tree as a sysroot, as a cross or staged build sees it.
	export PKG_CONFIG_PATH=$DEST/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
	pc() { pkg-config "$@" bart; }
	expect_eq "bart.pc: version" 0.1 "$(pc --modversion)"
	if cc -o "$T/count" "$ROOT/examples/count.c" $(pc --cflags --libs) 2>"$T/cc.err"; then
		ok "examples/count.c builds with pkg-config --cflags --libs bart"
	else
		not_ok "examples/count.c builds with pkg-config"; sed 's/^/#   /' "$T/cc.err"
	fi
	# The rpcgen header is usable as installed (with libtirpc's flags,
	# which a sysroot would have to hold too).
	printf '#include <rpcsvc/bart.h>\nint main(void){return BART_PROG == 0x2000ba27 ? 0 : 1;}\n' >"$T/x.c"
	cc -o "$T/x" "$T/x.c" -I"$DEST/usr/local/include" \
	    $(PKG_CONFIG_SYSROOT_DIR= pkg-config --cflags libtirpc) 2>"$T/cc.err" && "$T/x" &&
	    ok "installed rpcsvc/bart.h compiles" || { not_ok "rpcsvc/bart.h compiles"; cat "$T/cc.err"; }
	case " $(pc --static --libs) " in
	*" -lbart "*" -ltirpc "*) ok "bart.pc: a static link adds libtirpc" ;;
	*) not_ok "bart.pc: a static link adds libtirpc: $(pc --static --libs)" ;;
	esac
	unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
	export LD_LIBRARY_PATH=$DEST/usr/local/lib
	c0=$(clnt localhost count 0 | grep -o '[0-9]*')
	expect_run "example count against the daemon" 0 "^total $((c0 + 5)) via local$" "" \
	    "$BIN/examples/bart_count" localhost 5
	expect_run "example count: the CLI sees the same counter" 0 "^I was called $((c0 + 5)) times\.$" "" \
	    clnt localhost count 0
	expect_run "example count: errors in words" 1 "" "unknown host" \
	    "$BIN/examples/bart_count" no.such.host.invalid 1
	# The chat example from its own poll loop.
	mkfifo "$T/ex.in"; sleep 600 >"$T/ex.in" & HOLD=$!; track $HOLD
	"$BIN/examples/bart_chat" localhost exa <"$T/ex.in" >"$T/ex.out" 2>"$T/ex.err" &
	EX=$!; track $EX
	wait_for 10 grep -q "event 0" "$T/ex.err" && ok "example chat joins by push" ||
	    { not_ok "example chat joins by push"; cat "$T/ex.err"; }
	seq=$(clnt localhost say alice "hello example" | grep -o '[0-9]*')
	wait_for 5 grep -qxF "$seq <alice> hello example" "$T/ex.out" &&
	    ok "example chat prints a pushed message" ||
	    { not_ok "example chat prints a pushed message"; cat "$T/ex.out" "$T/ex.err"; }
	echo "from the example" >"$T/ex.in"
	wait_for 5 grep -q "<exa> from the example" "$T/ex.out" &&
	    ok "example chat sends a line (echoed back by push)" ||
	    not_ok "example chat sends a line"
	kill $HOLD
	wait_for 5 eval "! kill -0 $EX 2>/dev/null"; wait $EX
	expect_eq "example chat leaves on EOF with 0" 0 $?
	unset LD_LIBRARY_PATH
else
	echo "# $BIN has no DESTDIR install (sanitizer tree): the install and example checks run in the normal tree"
fi

# --- option syntax ------------------------------------------------------
expect_run "-Tudp -t0.5 attached values" 0 "^I was called" "" clnt -Tudp -t0.5 localhost count 0
expect_run "--timeout 2 --transport tcp" 0 "^I was called" "" clnt --timeout 2 --transport tcp localhost count 0
expect_run "--timeout=1.5" 0 "^I was called" "" clnt --timeout=1.5 localhost count 0
expect_run "options after HOST" 0 "bart is alive \(udp," "" clnt localhost -T udp -t 2 ping
expect_run "count -5 after HOST is the command's, not an option" 65 "" "must not be negative" \
    clnt localhost count -5
expect_run "-t 0 refused" 64 "" "timeout" clnt -t 0 localhost ping
expect_run "a host list: the first that answers" 0 "^I was called" "" \
    clnt -t 2 no.such.host.invalid,localhost count 0
expect_run "a host list where none answers: the last one's words" 68 "" "unknown host" \
    clnt -t 2 localhost.invalid,no.such.host.invalid count 0
expect_run "-o xml refused" 64 "" "text or json" clnt -o xml localhost ping

# --- JSON ---------------------------------------------------------------
expect_run "say -o json" 0 '^\{"seq":[0-9]+\}$' "" clnt -o json localhost say 'a] b' 'hello [x] world'
seq=$(jqf .seq)
now=$(date -u +%s)
expect_run "history -o json" 0 "" "" clnt localhost -o json history -n 1
expect_eq "history json: seq" "$seq" "$(jqf .seq)"
expect_eq "history json: name with ] and space" "a] b" "$(jqf .name)"
expect_eq "history json: text exactly" "hello [x] world" "$(jqf .text)"
expect_eq "history json: host" "local" "$(jqf .host)"
t=$(jqf .time)
if [[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] &&
    d=$(( $(date -u -d "$t" +%s) - now )) && [ "${d#-}" -le 5 ]; then
	ok "history json: time is UTC ISO 8601 ($t)"
else not_ok "history json: time is UTC ISO 8601 ($t, now $(date -u +%FT%TZ))"; fi
clnt localhost say bob second >/dev/null
expect_eq "history json: one object per line" 2 "$(clnt -o json localhost history -n 2 | jq -s length)"
expect_run "count -o json" 0 "" "" clnt -o json localhost count 2
total=$(jqf .total)
expect_eq "count json: text matches total" "I was called $total times." "$(jqf .text)"
expect_run "stats -o json" 0 "" "" clnt -o json localhost stats
expect_eq "stats json: counter" "$total" "$(jqf .counter)"
expect_eq "stats json: messages" "$((seq + 1))" "$(jqf .messages)"
expect_eq "stats json: subscribers" 0 "$(jqf .subscribers)"
[ "$(jqf .uptime)" -ge 0 ] 2>/dev/null && ok "stats json: uptime is a number" || not_ok "stats json: uptime"
# The Prometheus textfile line of the README.
prom=$(clnt -o json localhost stats | jq -r '"bart_counter \(.counter)\nbart_messages \(.messages)\nbart_subscribers \(.subscribers)\nbart_uptime_seconds \(.uptime)"')
expect_eq "README's Prometheus line" "bart_counter $total" "$(echo "$prom" | head -1)"

# A message too long for a bounded UDP reply: the server says "use a
# stream" (BART_EUSESTREAM) and the library asks again over tcp.
long=$(head -c 500 /dev/zero | tr '\0' L)
clnt localhost say longy "$long" >/dev/null
expect_run "history -T udp of a long message: retried over tcp" 0 "\[longy\] $long\$" "" \
    clnt -T udp localhost history -n 1
expect_run "history -T udp -o json: the same message" 0 "\"text\":\"$long\"" "" \
    clnt -T udp -o json localhost history -n 1

# --- what the server sends is escaped -------------------------------------
# Rows the server would refuse today, as an older daemon stored them.
stop_svc
sqlite3 "$T/state/bart.db" "INSERT INTO msgs (seq, time, name, host, text) VALUES
    ((SELECT max(seq) + 1 FROM msgs), 1700000000, CAST(X'6576696C1B5B326A' AS TEXT), 'local',
     CAST(X'41C29B42FF43E2809D440745' AS TEXT))"
start_svc -v || exit 1
clnt localhost history -n 1 >"$T/hist"
if grep -q "$(printf '\033')" "$T/hist" || grep -q "$(printf '\007')" "$T/hist"; then
	not_ok "history prints no raw control character"; od -c "$T/hist" | head
else ok "history prints no raw control character"; fi
expect_eq "history escapes ESC, C1, invalid UTF-8, BEL" \
    '[evil\x1b[2j] A\xc2\x9bB\xffC”D\x07E' "$(sed 's/^[^[]*//' "$T/hist")"
clnt -o json localhost history -n 1 >"$T/out"
expect_eq "json: control characters as \\u, invalid UTF-8 as \\udcXX" \
    '"name":"evil\u001b[2j","text":"A\u009bB\udcffC”D\u0007E"' \
    "$(grep -o '"name".*"' "$T/out")"
python3 -c 'import json,sys; m=json.loads(sys.stdin.read()); b=m["text"].encode("utf-8","surrogateescape"); sys.exit(b != bytes.fromhex("41C29B42FF43E2809D440745"))' <"$T/out" &&
    ok "json: the stored bytes are recoverable (surrogateescape)" ||
    not_ok "json: the stored bytes are recoverable"

# --- CLI quirks -------------------------------------------------------------
expect_run "chat --name without a value is refused" 64 "" "needs a NAME" clnt localhost chat --name
expect_run "chat -n without a value is refused" 64 "" "needs a NAME" clnt localhost chat -n
before=$(clnt localhost stats | awk '/^messages:/ {print $2}')
printf 'good line\nbad\0line\n' | clnt localhost chat piper >"$T/out" 2>"$T/err"
rc=$?
expect_eq "a piped line with a NUL: exit 65" 65 "$rc"
grep -q "NUL" "$T/err" && ok "a piped line with a NUL is reported" ||
    { not_ok "a piped line with a NUL is reported"; cat "$T/err"; }
after=$(clnt -o json localhost history -n 5 | jq -r 'select(.name == "piper") | .text')
expect_eq "only the good line was stored" "good line" "$after"
clnt "bad$(printf '\033')host" ping >/dev/null 2>"$T/err"
if grep -q "$(printf '\033')" "$T/err"; then not_ok "a host name with ESC is not echoed raw"
else grep -qF 'bad\x1bhost' "$T/err" && ok "a host name with ESC is echoed escaped" ||
	{ not_ok "a host name with ESC is echoed escaped"; cat "$T/err"; }; fi

# --- the error words ------------------------------------------------------
kill -STOP "$SVC_PID"
expect_run "a timed-out count says the change may have landed" 75 "" \
    "no answer within 1 s: the change may or may not have landed" clnt -t 1 localhost count 1
expect_run "a timed-out read says only no answer" 75 "" "no answer within 0.5 s$" \
    clnt -t 0.5 localhost stats
kill -CONT "$SVC_PID"
kill9_svc
expect_run "-T udp to a dead daemon: not reachable, not 'connection lost'" 69 "" \
    "bart_svc is not reachable|registered with rpcbind but does not answer" \
    clnt -T udp -t 1 localhost count 0
grep -q "connection lost" "$T/err" && not_ok "udp: no 'connection lost'" || ok "udp: no 'connection lost'"

# --- health -----------------------------------------------------------------
expect_run "health: daemon down is CRITICAL (2)" 2 "^BART CRITICAL - localhost: " "" clnt -t 1 localhost health
expect_run "health: unknown host is UNKNOWN (3)" 3 "^BART UNKNOWN - " "" clnt no.such.host.invalid health
expect_run "health: bad option is UNKNOWN (3)" 3 "" "unknown health option" clnt localhost health -x 1
mv "$T/state" "$T/state.old"; mkdir "$T/state"
mount -t tmpfs -o size=8m tmpfs "$T/state" || { not_ok "tmpfs"; finish; exit 1; }
cp -a "$T/state.old/." "$T/state/"
start_svc -v || exit 1
c=$(clnt localhost count 0 | grep -o '[0-9]*')
expect_run "health: OK (0) with perfdata" 0 \
    "^BART OK - localhost answers in .* \| latency=[0-9.]+s;1.000;5.000 probe=[0-9.]+s counter=${c}c messages=[0-9]+c subscribers=0$" "" \
    clnt localhost health
expect_run "health -o json" 0 "" "" clnt -o json localhost health
expect_eq "health json: status, store, counter" "OK ok $c" "$(jqf '"\(.status) \(.store) \(.counter)"')"
# A daemon stopped for 0.6 s answers late: past -w, short of -c.
kill -STOP "$SVC_PID"; (sleep 0.6; kill -CONT "$SVC_PID") & CONT=$!
expect_run "health: slower than -w is WARNING (1)" 1 "^BART WARNING - .*slow" "" \
    clnt localhost health -w 0.3 -c 10
wait $CONT
dd if=/dev/zero of="$T/state/filler" bs=64k 2>/dev/null
expect_run "ping still answers on a full disk" 0 "alive" "" clnt localhost ping
expect_run "health: full store is CRITICAL (2)" 2 "^BART CRITICAL - localhost: the store cannot commit" "" \
    clnt localhost health
rm -f "$T/state/filler"
expect_run "health: OK (0) after space returns" 0 "^BART OK" "" clnt localhost health
stop_svc
umount "$T/state"
finish
