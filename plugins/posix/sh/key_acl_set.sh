# shellcheck shell=sh disable=SC2154
# posix.key_acl apply/rollback: owner, group, mode and the ACL entry of
# $P_acl_user ($P_acl_op: set to $P_acl_perm, remove, or leave alone).
# Idempotent. On a file with an extended ACL the mode goes through setfacl
# (chmod would only change the mask and leave group:: readable).
p=$P_path
[ -e "$p" ] || rd_fail "$p does not exist"
if [ -n "$P_owner" ] && [ -n "$P_group" ]; then
  chown -- "$P_owner:$P_group" "$p" || rd_fail "$p: chown $P_owner:$P_group failed"
elif [ -n "$P_owner" ]; then
  chown -- "$P_owner" "$p" || rd_fail "$p: chown $P_owner failed"
elif [ -n "$P_group" ]; then
  chgrp -- "$P_group" "$p" || rd_fail "$p: chgrp $P_group failed"
fi
ext=0
if rd_ext_acl "$p"; then ext=1; fi
if [ "$P_acl_op" = remove ] && [ "$ext" = 1 ]; then
  setfacl -x "u:$P_acl_user" -- "$p" 2>/dev/null || true
fi
if [ -n "$P_mode" ]; then
  if [ "$P_acl_op" = set ] || [ "$ext" = 1 ]; then
    rwx() { case $1 in 0) echo --- ;; 1) echo --x ;; 2) echo -w- ;; 3) echo -wx ;; 4) echo r-- ;; 5) echo r-x ;; 6) echo rw- ;; *) echo rwx ;; esac; }
    m=$P_mode # three octal digits (the plugin normalises it)
    m2=${m#?}
    spec="u::$(rwx "${m%??}"),g::$(rwx "${m2%?}"),o::$(rwx "${m#??}")"
    setfacl -m "$spec" -- "$p" || rd_fail "$p: setfacl $spec failed"
  else
    chmod -- "$P_mode" "$p" || rd_fail "$p: chmod $P_mode failed"
  fi
fi
if [ "$P_acl_op" = set ]; then
  setfacl -m "u:$P_acl_user:$P_acl_perm" -- "$p" || rd_fail "$p: setfacl -m u:$P_acl_user:$P_acl_perm failed"
fi
rd_out ok 1
