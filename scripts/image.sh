#!/usr/bin/env bash
# Builds the vipd container image offline with podman: a Debian 12 base made by mmdebstrap and
# imported as debian:bookworm-slim (no registry is needed or asked: --pull=never), then
# deploy/container/Containerfile, tagged localhost/vipd:<version> and localhost/vipd:<version>-<commit>.
#
#   sudo scripts/image.sh                 # build (reuses the cached base and podman's layers)
#   sudo scripts/image.sh --refresh-base  # make a new base with mmdebstrap first
#   scripts/image.sh --print-tag          # the <version>-<commit> tag this tree builds, nothing else
#   sudo scripts/image.sh --record FILE   # also write the built image's reference to FILE (ctest)
#
# Cached between runs: the base tarball in $VIPD_IMAGE_CACHE (default /var/cache/vipd-image), the
# imported base image and podman's build layers (the build stage's package layer is the slow
# one). A machine without any of them builds everything. Prints the image reference last.
# podman runs with runc and ulimits within this host's hard limits, as flags: nothing in
# /etc/containers needs to be configured. Builds use the host network (apt reaches the mirror);
# podman's bridge network is never used.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${VIPD_IMAGE_CACHE:-/var/cache/vipd-image}
BASE_TAR="$CACHE/bookworm-minbase.tar"
BASE_IMAGE=localhost/debian:bookworm-slim
IMAGE=localhost/vipd
PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

refresh_base=0
print_tag=0
record=
while (($#)); do
  case $1 in
    --refresh-base) refresh_base=1 ;;
    --print-tag) print_tag=1 ;;
    --record)
      [[ $# -ge 2 ]] || { echo "image.sh: --record needs a file" >&2; exit 2; }
      record=$2
      shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

version=$(sed -n 's/^project(vipd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The image is built from the work tree: say so when it differs from the commit.
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- CMakeLists.txt cmake include bpf agent; then
  commit+=-dirty
fi
tag="$version-$commit"
if ((print_tag)); then
  echo "$IMAGE:$tag"
  exit 0
fi
[[ -z $record ]] || rm -f "$record"  # only a successful build records a reference

if [[ $EUID -ne 0 ]]; then
  echo "image.sh: run as root (mmdebstrap and podman's root storage): sudo scripts/image.sh" >&2
  exit 1
fi
for tool in podman mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "image.sh: $tool missing (run scripts/setup.sh)" >&2; exit 1; }
done

step() { echo "image.sh: $*"; }
elapsed() { echo "$((SECONDS - $1)) s"; }

# ---- base image ----------------------------------------------------------------------------------
if ((refresh_base)) || ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
  if ((refresh_base)) || [[ ! -s $BASE_TAR ]]; then
    start=$SECONDS
    step "making the Debian 12 base with mmdebstrap (minbase) into $BASE_TAR"
    mkdir -p "$CACHE"
    partial="$CACHE/bookworm-minbase.partial.tar"  # the .tar suffix makes mmdebstrap write a tarball
    rm -f "$partial"
    # Slim like debian:bookworm-slim: no manuals, docs (copyright files kept) or translations;
    # mmdebstrap leaves these dpkg options in the image, so the Containerfile's installs obey them.
    # The usrmerge package (and the perl it pulls in, ~50 MB) is only needed to merge /usr, which
    # mmdebstrap has done once it is installed; usr-is-merged replaces it, as in Debian's images.
    mmdebstrap --quiet --variant=minbase --mode=root \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq \
        usrmerge perl perl-modules-5.36 libperl5.36 libfile-find-rule-perl libnumber-compare-perl \
        libtext-glob-perl >/dev/null' \
      --customize-hook='chroot "$1" apt-get clean' \
      bookworm "$partial"
    mv "$partial" "$BASE_TAR"
    step "base tarball made in $(elapsed "$start")"
  fi
  step "importing $BASE_TAR as $BASE_IMAGE"
  "${PODMAN[@]}" import --quiet --change 'CMD ["bash"]' \
    --message "mmdebstrap --variant=minbase bookworm (scripts/image.sh)" "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

# ---- vipd image ----------------------------------------------------------------------------------
start=$SECONDS
step "building $IMAGE:$tag from deploy/container/Containerfile (commit $commit)"
"${PODMAN[@]}" build --quiet --pull=never --network host "${ULIMITS[@]}" --layers \
  --build-arg VIPD_GIT_COMMIT="$commit" -f deploy/container/Containerfile \
  -t "$IMAGE:$version" -t "$IMAGE:$tag" . >/dev/null
"${PODMAN[@]}" image exists "$IMAGE:$tag" || { echo "image.sh: the build made no $IMAGE:$tag" >&2; exit 1; }
step "built in $(elapsed "$start")"

# The image must say what it was built from.
shown=$("${PODMAN[@]}" run --rm --pull=never --network none "${ULIMITS[@]}" "$IMAGE:$tag" version)
if ! grep -qx "commit $commit" <<<"$shown"; then
  echo "image.sh: the image's \`vipd version\` does not show commit $commit:" >&2
  echo "$shown" >&2
  exit 1
fi
step "$(tr '\n' ' ' <<<"$shown")"
# The tests run exactly this image, even if the tree changes (and its tag with it) meanwhile.
[[ -z $record ]] || echo "$IMAGE:$tag" >"$record"
echo "$IMAGE:$tag"
