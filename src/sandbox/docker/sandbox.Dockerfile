# The docker backend's default sandbox image: what upstream's sandbox offers an agent (a shell,
# coreutils, python3, git, curl), on a small Debian base, built on the user's machine for its own
# architecture. The user sandboxes run as (1000) needs no entry in /etc/passwd.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 git curl ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
