# key_acl_pool.ps1 — who IIS application pool $P.app_pool runs as, next to
# the SID of $P.account, for windows.key_acl to compare (NDES reads its RA
# keys as the SCEP pool's identity: a key readable by another account fails
# with 0x80070057). Read-only. processModel.identityType is one of
# LocalSystem, LocalService, NetworkService, SpecificUser,
# ApplicationPoolIdentity (the virtual account "IIS AppPool\<pool>").
# {exists, identity_type, user, sid, account_sid}.
$pool = [string]$P.app_pool
if ($pool -notmatch '^[A-Za-z0-9 ._-]{1,64}\z') { rd_fail "application pool '$pool' is not a pool name" }
Import-Module WebAdministration -ErrorAction Stop
$res = [ordered]@{ exists = $false; identity_type = $null; user = $null; sid = $null; account_sid = (rdw_sid ([string]$P.account)).Value }
$p = Get-Item -LiteralPath ('IIS:\AppPools\' + $pool) -ErrorAction SilentlyContinue
if ($p) {
  $res.exists = $true
  $t = [string]$p.processModel.identityType
  $res.identity_type = $t
  if ($t -eq 'LocalSystem') { $res.sid = 'S-1-5-18' }
  elseif ($t -eq 'LocalService') { $res.sid = 'S-1-5-19' }
  elseif ($t -eq 'NetworkService') { $res.sid = 'S-1-5-20' }
  elseif ($t -eq 'ApplicationPoolIdentity') { $res.user = 'IIS AppPool\' + $pool }
  else { $res.user = [string]$p.processModel.userName }
  if ($res.user) {
    try { $res.sid = (rdw_sid_of $res.user).Value } catch { $res.sid = $null }
  }
}
rd_out $res
