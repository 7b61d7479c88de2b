#!/usr/bin/env bash
# Installs the PAM service of the RemoteVis portal, /etc/pam.d/remotevis: the system's own
# password check and account rules (common-auth, common-account), no session. Idempotent: an
# existing file is left as it is (a site may have edited it) unless --force is given.
#   sudo scripts/pam-install.sh [--force]
set -euo pipefail
FILE=/etc/pam.d/remotevis
if [ -e "$FILE" ] && [ "${1:-}" != "--force" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "installing $FILE needs root: sudo $0" >&2
  exit 1
fi
if [ ! -e /etc/pam.d/common-auth ]; then
  echo "/etc/pam.d/common-auth is missing: install the Debian packages libpam-runtime and libpam-modules (scripts/deps.sh install)" >&2
  exit 1
fi
cat >"$FILE" <<'PAM'
# RemoteVis web portal (remotevis serve, pam-service = "remotevis"): checks the password of an
# HPC account and its account rules; opens no session. Edit to use the site's stack
# (pam_sss, pam_krb5, pam_faillock, ...).
@include common-auth
@include common-account
PAM
chmod 0644 "$FILE"
echo "installed $FILE"
