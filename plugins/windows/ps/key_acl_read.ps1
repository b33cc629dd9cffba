# key_acl_read.ps1 — the private key facts of certificate $P.thumbprint
# (rdw_keyinfo) and, for each machine key folder holding its file, the
# rights that file's DACL allows $P.account by SID (explicit or inherited
# rules; not through groups): {found, has_key, key, sid,
# acl: {<folder>: {rights (FileSystemRights as a number), text}}}.
# Which file is the key is decided in C (plugins/windows/keyfile.c).
$storePath = rdw_store ([string]$P.store)
$thumb = rdw_thumb ([string]$P.thumbprint) 'certificate'
$res = [ordered]@{ found = $false; has_key = $false; key = $null; sid = $null; acl = [ordered]@{} }
$res.sid = (rdw_sid ([string]$P.account)).Value
$c = rdw_find $storePath $thumb
if ($c) {
  $res.found = $true
  $res.has_key = [bool]$c.HasPrivateKey
  $res.key = rdw_keyinfo $c
  foreach ($d in @($res.key.files)) {
    $path = Join-Path (Join-Path $res.key.crypto_dir $d) $res.key.unique_name
    $mask = rdw_acl_mask_of $path $res.sid
    $res.acl[$d] = [ordered]@{ rights = $mask; text = $(if ($mask) { ([System.Security.AccessControl.FileSystemRights]$mask).ToString() } else { '' }) }
  }
}
rd_out $res
