# shellcheck shell=sh disable=SC2154
# posix.key_acl probe/verify (read-only): owner, group, mode and the ACL
# entry of $P_acl_user on $P_path, and whether $P_readable_by can read it.
# With an extended ACL the group bits that stat shows are the ACL mask, so
# the mode is read from the ACL's own user::/group::/other:: entries.
p=$P_path
if [ ! -e "$p" ]; then
  rd_out exists 0
  exit 0
fi
rd_out exists 1
st=$(stat -c '%U %u %G %g %04a' -- "$p") || rd_fail "$p: cannot stat it"
set -f
# shellcheck disable=SC2086
set -- $st
set +f
rd_out owner "$1"
rd_out owner_id "$2"
rd_out group "$3"
rd_out group_id "$4"
mode=$5
if command -v getfacl >/dev/null 2>&1 && acl=$(getfacl -c -E -p -- "$p" 2>/dev/null); then
  # the digit of a permission field ("rw-": 6), read by the shell itself
  digit() { _v=0; case $1 in r*) _v=4 ;; esac; case $1 in ?w*) _v=$((_v + 2)) ;; esac; case $1 in ??x*) _v=$((_v + 1)) ;; esac; }
  uo='' go='' oo=''
  if [ -n "$P_acl_user" ]; then
    u=$(getent passwd "$P_acl_user" 2>/dev/null)
    u=${u%%:*}
    [ -n "$u" ] || u=$P_acl_user
  fi
  entry='' found=0
  while IFS=: read -r k q perm; do
    perm=${perm%%:*}
    case $k:$q in
    user:) digit "$perm"; uo=$_v ;;
    group:) digit "$perm"; go=$_v ;;
    other:*) digit "$perm"; oo=$_v ;;
    user:?*) if [ "$found" = 0 ] && [ -n "$P_acl_user" ] && [ "$q" = "$u" ]; then entry=$perm found=1; fi ;;
    esac
  done <<EOF
$acl
EOF
  if [ -n "$uo" ] && [ -n "$go" ] && [ -n "$oo" ]; then mode="${5%???}$uo$go$oo"; fi
  [ -z "$P_acl_user" ] || rd_out acl "$entry"
elif [ -n "$P_acl_user" ]; then
  rd_fail "$p: getfacl is not installed (needed for acl_user)"
fi
rd_out mode "$mode"
if rd_ext_acl "$p"; then rd_out ext_acl 1; fi
# readable_by: can that user (the service's) read the file? Tried as that
# user, so owner, groups, mode and ACL all count.
if [ -n "$P_readable_by" ]; then
  getent passwd "$P_readable_by" >/dev/null 2>&1 || rd_fail "user $P_readable_by (readable_by) does not exist"
  command -v runuser >/dev/null 2>&1 || rd_fail "runuser is not installed (needed for readable_by)"
  if runuser -u "$P_readable_by" -- head -c 1 -- "$p" >/dev/null 2>&1; then
    rd_out readable 1
  else
    rd_out readable 0
  fi
fi
