#!/bin/sh
# Builds the fuzz seed corpora (fuzz/corpus/<target>/) from libvirt's and
# virt-manager's conformance files in ../shared/conformance. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
conf=""
dir=$here
while [ "$dir" != "/" ]; do
    dir=$(dirname "$dir")
    if [ -d "$dir/shared/conformance" ]; then
        conf="$dir/shared/conformance"
        break
    fi
done
if [ -z "$conf" ]; then
    echo "seed.sh: no shared/conformance above $here" >&2
    exit 1
fi
lv="$conf/libvirt-9.0.0"

seed() {
    target=$1
    shift
    mkdir -p "$here/corpus/$target"
    n=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        # Name seeds by content so re-running does not duplicate them.
        sum=$(sha1sum "$f" | cut -c1-16)
        cp "$f" "$here/corpus/$target/seed-$sum"
        n=$((n + 1))
    done
    echo "$target: $n seed files"
}

seed domain "$lv"/domain-xml/*.xml "$lv"/examples-xml-test/testdom*.xml
seed network "$lv"/networkxml2xmlin/*.xml "$lv"/networkxml2xmlout/*.xml \
    "$lv"/examples-xml-test/testnet*.xml
seed pool "$lv"/storagepoolxml2xmlin/*.xml "$lv"/storagepoolxml2xmlout/*.xml \
    "$lv"/examples-xml-test/testpool.xml
seed volume "$lv"/storagevolxml2xmlin/*.xml "$lv"/storagevolxml2xmlout/*.xml \
    "$lv"/examples-xml-test/testvol.xml
seed node "$lv"/examples-xml-test/testnode*.xml "$conf"/virt-manager/*.xml
