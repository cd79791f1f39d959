# Kills every process of a sandbox's container whose environment holds ACONTEXT_EXEC=$1: what one
# exec started, wherever it went (setsid, double forks keep the environment), until none is left.
# Run by the docker backend as the sandbox's user, with the image's own programs.
marker="ACONTEXT_EXEC=$1"
round=0
while [ "$round" -lt 100 ]; do
  round=$((round + 1))
  found=
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if tr '\0' '\n' < "$environ" 2>/dev/null | grep -qxF -- "$marker"; then
      kill -9 "$pid" 2>/dev/null && found=1
    fi
  done
  [ -n "$found" ] || exit 0
done
