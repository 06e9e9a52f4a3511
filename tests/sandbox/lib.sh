# Shell helpers sourced by every scenario, in the sandbox (busybox sh) and in
# HANGAR_DIRECT_KVM mode (the host's /bin/sh). Set by the runner: HV (the
# hangar-vmm binary), KERNEL, INITRD (the L2 guest), WORK (a scratch folder).

# wait_for FILE PATTERN SECONDS: succeeds once FILE has a line matching PATTERN.
wait_for() {
    _n=$(($3 * 10))
    while [ "$_n" -gt 0 ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    echo "TIMEOUT waiting for '$2' in $1"
    return 1
}

# count_lines FILE PATTERN: how many lines of FILE match PATTERN.
count_lines() {
    grep -c -- "$2" "$1" 2>/dev/null || true
}

# domain_xml NAME MEMORY_MIB VCPUS MODE [ON_REBOOT]: a domain definition
# booting the L2 guest in the given hangar_mode, with $EXTRA_CMDLINE and
# the <devices> children in $EXTRA_DEVICES.
# pci=noearly: on an AMD vCPU the kernel scans all 65536 PCI functions twice
# for an AGP aperture, two port exits each; nested under TCG that is ~20 s.
domain_xml() {
    cat <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>$2</memory>
  <vcpu>$3</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 pci=noearly hangar_mode=$4 ${EXTRA_CMDLINE:-}</cmdline>
  </os>
  <on_reboot>${5:-restart}</on_reboot>
  <devices>${EXTRA_DEVICES:-}</devices>
</domain>
XML
}

# start_vm NAME MEMORY_MIB VCPUS MODE [ON_REBOOT]: launches hangar-vmm in the
# background with its socket, serial log and state file under $WORK/NAME.*;
# sets VM_PID. Its exit code lands in $WORK/NAME.rc.
start_vm() {
    domain_xml "$@" >"$WORK/$1.xml"
    (
        "$HV" run --domain "$WORK/$1.xml" --socket "$WORK/$1.sock" \
            --serial-log "$WORK/$1.log" --state-file "$WORK/$1.state" \
            >"$WORK/$1.out" 2>&1
        echo $? >"$WORK/$1.rc"
    ) &
    VM_PID=$!
}

# wait_exit NAME SECONDS: waits for the VM's hangar-vmm to end; prints its code.
wait_exit() {
    _n=$(($2 * 10))
    while [ "$_n" -gt 0 ]; do
        if [ -s "$WORK/$1.rc" ]; then
            echo "EXIT $1 rc=$(cat "$WORK/$1.rc")"
            return 0
        fi
        sleep 0.1
        _n=$((_n - 1))
    done
    echo "TIMEOUT waiting for $1 to exit"
    return 1
}

# ctl NAME COMMAND...: a control-socket request to the VM NAME.
ctl() {
    _vm=$1
    shift
    "$HV" ctl --socket "$WORK/$_vm.sock" "$@"
}

# guest_run NAME SECONDS COMMANDS: types COMMANDS (one line of shell) into
# the shell on NAME's serial console (mode "shell", after HANGAR-L2-READY)
# and waits up to SECONDS for them to finish. Their output lands in the
# serial log $WORK/NAME.log.
guest_run() {
    _gr_n=$(( ${_gr_n:-0} + 1 ))
    # The typed line echoes back; only the executed echo prints the marker.
    (sleep 1; printf '%s; echo HANGAR-L2-RAN-$((%s+0))-END\n' "$3" "$_gr_n"; sleep 1) |
        "$HV" ctl --socket "$WORK/$1.sock" console >/dev/null 2>&1
    wait_for "$WORK/$1.log" "HANGAR-L2-RAN-$_gr_n-END" "$2"
}

# host_act NAME: asks the host-side test to run its action NAME now (the
# runner watches the serial log for the marker) and waits until the host
# answers on forwarded port 7000; prints the host's answer.
host_act() {
    rm -f "$WORK/host-$1.txt"
    nc -l -p 7000 >"$WORK/host-$1.txt" &
    _nc=$!
    sleep 1
    echo "HANGAR-HOST-ACT $1"
    wait $_nc
    cat "$WORK/host-$1.txt"
}

# show NAME: prints the VM's serial log and hangar-vmm's own output.
show() {
    echo "--- serial log of $1"
    cat "$WORK/$1.log" 2>/dev/null
    echo "--- hangar-vmm output of $1"
    cat "$WORK/$1.out" 2>/dev/null
    threads "$1"
    echo "---"
}

# threads NAME: where each thread of NAME's hangar-vmm is, if it still runs
# (name, state, kernel wait channel and stack): a stuck guest shows whether
# its vCPU is inside KVM_RUN or waiting in the VMM.
threads() {
    for _p in /proc/[0-9]*; do
        grep -qs -- "$WORK/$1.xml" "$_p/cmdline" || continue
        for _t in "$_p"/task/*; do
            echo "THREAD ${_t##*/} $(cat "$_t/comm" 2>/dev/null) $(sed -n 's/^State:\t//p' "$_t/status" 2>/dev/null) wchan=$(cat "$_t/wchan" 2>/dev/null)"
            head -6 "$_t/stack" 2>/dev/null | sed 's/^/    /'
        done
    done
}
