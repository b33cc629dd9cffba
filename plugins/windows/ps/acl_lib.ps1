# acl_lib.ps1 — a key file's DACL, for windows.key_acl (after lib.ps1).
# Windows-only .NET types (FileSystemSecurity): the emulated host
# (tests/windows/emu) replaces these rdw_*_of helpers.

# The rights (FileSystemRights as a number) that the DACL of $Path allows
# the SID string $Sid: explicit or inherited allow rules, not through groups.
function rdw_acl_mask_of([string]$Path, [string]$Sid) {
  $mask = 0
  foreach ($rule in (Get-Item -LiteralPath $Path -Force).GetAccessControl('Access').GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    if ($rule.IdentityReference.Value -eq $Sid -and [string]$rule.AccessControlType -eq 'Allow') { $mask = $mask -bor [int]$rule.FileSystemRights }
  }
  return $mask
}

# Adds ($Op "grant") or removes ("revoke") an explicit allow rule of
# $Rights (FileSystemRights) for $Sid (rdw_sid) on $Path; only the DACL is
# written.
function rdw_acl_change_of([string]$Path, $Sid, $Rights, [string]$Op) {
  $item = Get-Item -LiteralPath $Path -Force
  $acl = $item.GetAccessControl('Access')
  $rule = New-Object System.Security.AccessControl.FileSystemAccessRule $Sid, $Rights, 'None', 'None', 'Allow'
  if ($Op -eq 'grant') { $acl.AddAccessRule($rule) } else { [void]$acl.RemoveAccessRule($rule) }
  $item.SetAccessControl($acl)
}
