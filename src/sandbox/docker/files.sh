# File operations of the docker backend, run in a sandbox's container as its user, with the
# image's own programs (its root is read-only, so the sandbox cannot replace them) and PATH set by
# the backend. files.sh OP PATH:
#   read PATH    a regular file: its size and a newline on stdout, then its bytes
#   write PATH   stdin into a regular file (parents made)
#   list DIR     the regular files under DIR: "SIZE RELATIVE-PATH" NUL-terminated (links not followed)
#   stat PATH    what PATH is, links followed: file, dir, other or missing
# Exit codes name the failure: 2 missing, 3 not a regular file, 4 denied, 5 not a directory,
# 6 no space, 1 anything else (the message on stderr).
op=$1
path=$2
fail() { echo "$path: $2" >&2; exit "$1"; }
case "$op" in
read)
  [ -e "$path" ] || fail 2 "No such file or directory"
  [ -f "$path" ] || fail 3 "not a regular file"
  [ -r "$path" ] || fail 4 "Permission denied"
  size=$(stat -c %s -- "$path") || exit 1
  echo "$size"
  exec cat -- "$path"
  ;;
write)
  dir=$(dirname -- "$path")
  mkdir -p -- "$dir" 2>/dev/null || { [ -e "$dir" ] && fail 5 "not a directory"; fail 4 "cannot make its folder"; }
  if [ -e "$path" ] && [ ! -f "$path" ]; then fail 3 "not a regular file"; fi
  errors=$(cat > "$path" 2>&1) && exit 0
  case "$errors" in
  *"No space"*) fail 6 "No space left on device" ;;
  *"Permission denied"* | *"Read-only"*) fail 4 "Permission denied" ;;
  *) fail 1 "$errors" ;;
  esac
  ;;
list)
  [ -e "$path" ] || fail 2 "No such file or directory"
  [ -d "$path" ] || fail 5 "not a directory"
  cd -- "$path" || fail 4 "Permission denied"
  exec find . -mindepth 1 -type f -printf '%s %P\0'
  ;;
stat)
  if [ -f "$path" ]; then echo file
  elif [ -d "$path" ]; then echo dir
  elif [ -e "$path" ]; then echo other
  else echo missing
  fi
  exit 0
  ;;
esac
exit 1
