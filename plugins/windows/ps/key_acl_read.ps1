# key_acl_read.ps1 — the private key file of certificate $P.thumbprint and
# the rights its DACL allows $P.account by name (explicit or inherited
# rules; not through groups):
# {found, has_key, key, sid, rights (FileSystemRights as a number), text}.
$storePath = rdw_store ([string]$P.store)
$thumb = rdw_thumb ([string]$P.thumbprint) 'certificate'
$res = [ordered]@{ found = $false; has_key = $false; key = $null; sid = $null; rights = 0; text = '' }
try {
  $res.sid = (New-Object System.Security.Principal.NTAccount ([string]$P.account)).Translate([System.Security.Principal.SecurityIdentifier]).Value
} catch {
  rd_fail "account '$($P.account)' cannot be resolved on this host: $($_.Exception.Message)"
}
$c = rdw_find $storePath $thumb
if ($c) {
  $res.found = $true
  $res.has_key = [bool]$c.HasPrivateKey
  $res.key = rdw_keyinfo $c
  if ($res.key.exists) {
    $acl = (Get-Item -LiteralPath $res.key.path -Force).GetAccessControl('Access')
    $mask = 0
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
      if ($rule.IdentityReference.Value -eq $res.sid -and [string]$rule.AccessControlType -eq 'Allow') { $mask = $mask -bor [int]$rule.FileSystemRights }
    }
    $res.rights = $mask
    $res.text = ([System.Security.AccessControl.FileSystemRights]$mask).ToString()
  }
}
rd_out $res
