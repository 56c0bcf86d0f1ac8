#!/usr/bin/env bash
# <name>/definition: the whole sandbox as one JSON object.  `cat a/definition
# > b/definition` makes b a copy of a (devices on the same slots, a uuid of
# its own); the machine type is the versioned one; a bad definition changes
# nothing (all or nothing) and fails with the errno of what is wrong; while
# running it carries the hot-added vCPUs, and it cannot be written.
# test-timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount
A=$MNT/a B=$MNT/b

mkdir "$A" "$B"
truncate -s 16M "$T/d1.img" "$T/d2.img"
echo '{"memory_mib":192,"maxvcpus":3}' > "$A/config"
echo "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}" > "$A/devices/add"
echo "{\"type\":\"block\",\"id\":\"d2\",\"file\":\"$T/d2.img\",\"readonly\":true}" > "$A/devices/add"
echo d1 > "$A/devices/remove"   # d2 stays on rp1, rp0 is free: not first fit
echo "{\"type\":\"rng\",\"id\":\"r0\"}" > "$A/devices/add"

check "definition is one JSON object" bash -c "python3 -c 'import json,sys; json.load(sys.stdin)' < '$A/definition'"
check "it records the versioned machine type" grep -q '"machine": "pc-q35-7.2"' "$A/definition"
check "... while config keeps the alias" grep -q '"machine": "q35"' "$A/config"
check "it names each device's slot" bash -c "tr -d ' \n' < '$A/definition' | grep -q '\"d2\":{\"bus\":\"rp1\",\"slot\":0}'"

# A copy: every key but the uuid, the devices on the same slots.
uuid_b=$(sed -n 's/.*"uuid": "\(.*\)".*/\1/p' "$B/config")
check "cat a/definition > b/definition succeeds" bash -c "cat '$A/definition' > '$B/definition'"
check "b has a's devices" reads_as_ls "$B/devices" "add d2 r0 remove"
check "d2 sits on rp1 in b too (the slot travels)" reads_as "$B/devices/d2/bus" rp1
check "r0 sits on rp0 in b too" reads_as "$B/devices/r0/bus" rp0
check "b keeps its own uuid" grep -q "\"uuid\": \"$uuid_b\"" "$B/config"
check "b's uuid is not a's" bash -c "[ \"\$(grep uuid '$A/config')\" != \"\$(grep uuid '$B/config')\" ]"
check "b's config is a's but for the uuid (and the machine's version)" bash -c \
	"diff <(grep -v uuid '$A/config') <(grep -v uuid '$B/config' | sed 's/pc-q35-7.2/q35/')"
check "a versioned machine type is a config value" bash -c "echo '{\"machine\":\"pc-q35-7.2\"}' > '$A/config'"
check "... of the same family: the devices stay on their slots" reads_as "$A/devices/d2/bus" rp1
check "an unknown versioned type is EINVAL" write_expect "$A/config" '{"machine":"pc-q35-x"}' "Invalid argument"

# All or nothing: each bad definition leaves b exactly as it was.
before=$(cat "$B/definition")
def=$(cat "$A/definition")
bad() { # bad DESC ERRTEXT PYTHON-EDIT
	local text
	text=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); $3; print(json.dumps(d))" "$def")
	check "$1" write_expect "$B/definition" "$text" "$2"
	check "... and b is unchanged" [ "$(cat "$B/definition")" = "$before" ]
}
bad "an unknown key is EINVAL" "Invalid argument" "d['bogus']=1"
bad "no config is EINVAL" "Invalid argument" "del d['config']"
bad "a bad config value is EINVAL" "Invalid argument" "d['config']['vcpus']=9"
bad "a device whose file is missing is ENOENT" "No such file or directory" \
	"d['devices'][0]['file']='$T/missing.img'"
check "... error names the path" grep -q "missing.img" "$B/error"
bad "two devices with one id are EEXIST" "File exists" "d['devices'].append(d['devices'][0])"
bad "a slot of no bridge is EINVAL" "Invalid argument" "d['slots']['d2']={'bus':'rp9','slot':0}"
bad "two devices on one slot fail" "File exists" "d['slots']['r0']=d['slots']['d2']"
bad "a version this daemon does not read is EINVAL" "Invalid argument" "d['definition']=2"
bad "a truncated object is EINVAL" "Invalid argument" "d=str(d)[:40]"
check "the copy's hot_cpus are kept for incoming, range-checked" \
	write_expect "$B/definition" "$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['hot_cpus']=[{'id':'cpu-1-0-0','socket':1,'core':0,'thread':0}]*3; print(json.dumps(d))" "$def")" \
	"Numerical result out of range"

# Running: the hot-added vCPUs are in it; it cannot be replaced.
rm -f "$T/d1.img"
echo d2 > "$A/devices/remove"
echo start > "$A/ctl"
check "a boots" wait_for 90 guest_says a 'ncpus=1 '
echo 2 > "$A/cpus/target"
check "a sees 2 vCPUs" wait_for 30 guest_says a 'ncpus=2 '
check "the running definition carries the hot-added vCPU" bash -c \
	"tr -d ' \n' < '$A/definition' | grep -q '\"hot_cpus\":\[{\"id\":\"cpu-1-0-0\",\"socket\":1,\"core\":0,\"thread\":0}\]'"
check "... and QEMU's own machine type" grep -q '"machine": "pc-q35-7.2"' "$A/definition"
check "writing the definition of a running sandbox is EBUSY" write_expect "$A/definition" "$def" "Device or resource busy"
check "... error says why" grep -q "not running" "$A/error"
echo stop > "$A/ctl"
check "a stopped definition has no hot-added vCPUs" grep -q '"hot_cpus": \[' "$A/definition"
check "... an empty list" bash -c "tr -d ' \n' < '$A/definition' | grep -q '\"hot_cpus\":\[\]'"
check "the copy starts (the definition is complete)" bash -c "rm -f '$T/d2.img'; truncate -s 16M '$T/d2.img'; echo start > '$B/ctl'"
check "b boots with the copied devices (r0, d2)" wait_for 90 guest_says b 'blk=vda '
echo stop > "$B/ctl"
exit $FAILS
