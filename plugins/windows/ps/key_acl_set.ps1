# key_acl_set.ps1 — grants ($P.op "grant") or removes ("revoke") an
# explicit allow rule for $P.account on a private key file ($P.path, which
# must lie under %ProgramData%\Microsoft\Crypto): "read" is Read,
# Synchronize; "full" FullControl. Only the DACL is written. {rights, text}.
$path = [string]$P.path
$base = (Join-Path $env:ProgramData 'Microsoft\Crypto') + '\'
if (-not $path.StartsWith($base, [System.StringComparison]::OrdinalIgnoreCase) -or $path.Contains('..')) { rd_fail "key file '$path' is not under $base" }
if (-not (Test-Path -LiteralPath $path)) { rd_fail "key file $path does not exist" }
if ($P.rights -eq 'full') { $want = [System.Security.AccessControl.FileSystemRights]'FullControl' }
elseif ($P.rights -eq 'read') { $want = [System.Security.AccessControl.FileSystemRights]'Read, Synchronize' }
else { rd_fail "rights '$($P.rights)' is not read or full" }
$sid = rdw_sid ([string]$P.account)
$item = Get-Item -LiteralPath $path -Force
$acl = $item.GetAccessControl('Access')
$rule = New-Object System.Security.AccessControl.FileSystemAccessRule $sid, $want, 'None', 'None', 'Allow'
if ($P.op -eq 'grant') { $acl.AddAccessRule($rule) }
elseif ($P.op -eq 'revoke') { [void]$acl.RemoveAccessRule($rule) }
else { rd_fail "operation '$($P.op)' is not grant or revoke" }
$item.SetAccessControl($acl)
$mask = 0
foreach ($r in (Get-Item -LiteralPath $path -Force).GetAccessControl('Access').GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
  if ($r.IdentityReference.Value -eq $sid.Value -and [string]$r.AccessControlType -eq 'Allow') { $mask = $mask -bor [int]$r.FileSystemRights }
}
rd_out ([ordered]@{ rights = $mask; text = ([System.Security.AccessControl.FileSystemRights]$mask).ToString() })
