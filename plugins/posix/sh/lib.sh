# shellcheck shell=sh
# lib.sh — shell helpers shared by every posix step kind's script. It runs
# after the transport prelude (orchestrator/transport/remote.h: $RD_P, rd_out,
# rd_out_file, rd_fail) and before the step's own script. POSIX sh plus GNU
# coreutils and stock openssl. Values are always data: quoted, after "--".

# Backups are named <live path>.renewd-YYYYmmddTHHMMSSZ (-N when that name
# is taken). Nothing else counts as a backup: not the issuer's staged key
# (.renewd-new), not temp files, not the live file.
rd_ts() { date -u +%Y%m%dT%H%M%SZ; }
rd_is_backup() { # LIVE CANDIDATE
  case $2 in
  "$1".renewd-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) return 0 ;;
  "$1".renewd-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[1-9]) return 0 ;;
  "$1".renewd-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[1-9][0-9]) return 0 ;;
  esac
  return 1
}
# The backups of LIVE, newest first, one per line: the glob's sorted list
# reversed (their names differ only in digits and the "-N" suffix).
rd_backups() {
  _l=
  for _f in "$1".renewd-*; do
    if [ -f "$_f" ] && rd_is_backup "$1" "$_f"; then _l="$_f
$_l"; fi
  done
  printf '%s' "$_l"
}

# Where a write to PATH really lands (symlinks followed), so that writing a
# file keeps a symlinked layout (e.g. live/ -> archive/) intact. An absolute
# path without "." or ".." parts and without a symlink in it is its own
# answer (readlink -f prints it as it is); anything else asks readlink.
rd_resolve() {
  case $1 in
  /*/ | *//* | */./* | */../* | */. | */..) ;;
  /?*)
    _r=$1
    while [ -n "$_r" ] && [ ! -L "$_r" ]; do _r=${_r%/*}; done
    if [ -z "$_r" ]; then printf '%s\n' "$1"; return 0; fi ;;
  esac
  readlink -f -- "$1" 2>/dev/null || printf '%s' "$1"
}
# The directory of the file PATH into _d, as dirname(1) prints it.
rd_dir() { # PATH
  _d=$1
  while :; do case $_d in ?*/) _d=${_d%/} ;; *) break ;; esac; done
  case $_d in
  */*) _d=${_d%/*} ;;
  *) _d=. ;;
  esac
  while :; do case $_d in ?*/) _d=${_d%/} ;; *) break ;; esac; done
  [ -n "$_d" ] || _d=/
}
# A fresh temp file beside PATH (same directory, so mv is a rename).
rd_tmp_beside() { rd_dir "$1"; mktemp "$_d/.${1##*/}.renewd-tmp.XXXXXX"; }
# "owner group mode" of PATH, e.g. "root ssl-cert 0640".
rd_stat() { stat -c '%U %G %04a' -- "$1" 2>/dev/null; }
# Give FILE the owner, group and mode of REF. A chown that is refused is
# fine only when FILE already has REF's owner and group.
rd_copyperm() { # REF FILE: owner, group, mode and REF's extended ACL
  chmod --reference="$1" -- "$2" || return 1
  chown --reference="$1" -- "$2" 2>/dev/null ||
    [ "$(stat -c %u:%g -- "$1")" = "$(stat -c %u:%g -- "$2")" ] || return 1
  # a service user's read entry (u:NAME:r) must survive the renewal and
  # the rollback: chmod --reference copies no ACL
  if rd_ext_acl "$1"; then
    getfacl -c -E -p -- "$1" 2>/dev/null | setfacl --set-file=- -- "$2"
  fi
}
# Whether FILE has an extended ACL (named entries or a mask; false without
# getfacl).
rd_ext_acl() { # FILE: a "mask" entry, or a second field that is not empty
  command -v getfacl >/dev/null 2>&1 || return 1
  _a=$(getfacl -c -E -p -- "$1" 2>/dev/null) || _a=
  while IFS= read -r _e; do
    case $_e in
    mask:*) return 0 ;;
    *:*:*) _e=${_e#*:}; [ -z "${_e%%:*}" ] || return 0 ;;
    esac
  done <<EOF
$_a
EOF
  return 1
}
# Atomically make DEST a copy of SRC: temp beside DEST, owner/group/mode of
# REF (when it exists) or MODE, fsync, rename, fsync the directory.
rd_put() { # SRC DEST REF MODE
  _t=$(rd_tmp_beside "$2") || return 1
  if cat -- "$1" >"$_t" &&
    if [ -n "$3" ] && [ -e "$3" ]; then rd_copyperm "$3" "$_t"; else chmod "$4" -- "$_t"; fi &&
    sync -- "$_t" && mv -f -- "$_t" "$2"; then
    rd_dir "$2"
    sync -- "$_d" 2>/dev/null
    return 0
  fi
  rm -f -- "$_t"
  return 1
}

# The facts of the certificate in CERT from one openssl process: _fp its
# lowercase hex SHA-256 and _pub its public key (PEM), both empty and
# status 2 when it cannot be read.
rd_certfacts() { # CERT
  _fp='' _pub=''
  _o=$(openssl x509 -in "$1" -noout -pubkey -fingerprint -sha256 </dev/null 2>/dev/null) || return 2
  case $_o in
  *Fingerprint=*) ;;
  *) return 2 ;;
  esac
  case $_o in # the public key's lines and the fingerprint's, in either order
  -----BEGIN*) _pub=${_o%"
"*} ;;
  *) _pub=${_o#*"
"} ;;
  esac
  _o=${_o#*Fingerprint=}
  _o=${_o%%"
"*}
  while [ -n "$_o" ]; do
    _c=${_o%"${_o#?}"}
    _o=${_o#?}
    case $_c in
    :) _c= ;; A) _c=a ;; B) _c=b ;; C) _c=c ;; D) _c=d ;; E) _c=e ;; F) _c=f ;;
    esac
    _fp=$_fp$_c
  done
}
# The last 16 KiB of FILE as base64 on one line; nothing (and no process)
# when FILE is empty.
rd_tail_b64() { # FILE
  [ ! -s "$1" ] || tail -c 16384 -- "$1" | base64 -w0
}
# Lowercase hex SHA-256 of the certificate in FILE (empty if none).
rd_sha256() { rd_certfacts "$1"; printf '%s\n' "$_fp"; }
# Does the private key in KEY belong to the certificate whose public key is
# _pub (rd_certfacts)? Compares public keys only: the private key is read
# here and never printed. 0 yes, 1 no, 2 unreadable.
rd_keypub_match() { # KEY
  _k=$(openssl pkey -in "$1" -pubout -passin pass: </dev/null 2>/dev/null) || return 2
  [ -n "$_k" ] && [ "$_k" = "$_pub" ]
}
# The same for the certificate in CERT.
rd_keymatch() { # KEY CERT
  _k=$(openssl pkey -in "$1" -pubout -passin pass: </dev/null 2>/dev/null) || return 2
  rd_certfacts "$2" || return 2
  [ -n "$_k" ] && [ "$_k" = "$_pub" ]
}
# The SHA-256 (hex) of the public key of the private key in KEY (its
# SubjectPublicKeyInfo, DER): one openssl process; the orchestrator compares
# it with the certificate's, which it already has. Empty when unreadable.
rd_pubkey_sha256() { # KEY
  openssl pkey -in "$1" -pubout -outform DER -passin pass: </dev/null 2>/dev/null | sha256sum |
    { read -r _d _x; [ "$_d" != e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ] && echo "$_d"; }
}
rd_keymatch_word() { # KEY CERT -> prints 1, 0 or unreadable
  rd_keymatch "$1" "$2"
  rd_match_word $?
}
rd_match_word() { # STATUS of rd_keymatch -> prints 1, 0 or unreadable
  case $1 in 0) echo 1 ;; 1) echo 0 ;; *) echo unreadable ;; esac
}

# Combined PEM layout (haproxy and some appliances): the certificate, its
# chain and the private key in one file, "cert" and "key" the same path.
rd_combined() { [ "$(rd_resolve "$P_cert")" = "$(rd_resolve "$P_key")" ]; }
# The PEM blocks of one kind in FILE, byte for byte: rd_pem_blocks FILE CERT
# prints every certificate, rd_pem_blocks FILE KEY the private key(s).
rd_pem_blocks() { # FILE CERT|KEY
  case $2 in
  CERT) sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p' -- "$1" ;;
  *) sed -n '/^-----BEGIN [A-Z ]*PRIVATE KEY-----/,/^-----END [A-Z ]*PRIVATE KEY-----/p' -- "$1" ;;
  esac
}
