# adcs_lib.ps1 — the adcs.issue scripts' work directory.
# %ProgramData%\renewd gets an ACL of SYSTEM and Administrators only (no
# inheritance), so that nobody else can change the request or the task
# script that SYSTEM runs; each renewal works in adcs-<16 hex> below it.
function rdw_workdir([string]$Nonce) {
  if ($Nonce -notmatch '^[0-9a-f]{16}\z') { rd_fail "work directory id '$Nonce' is not 16 hex digits" }
  $root = Join-Path $env:ProgramData 'renewd'
  if (-not (Test-Path -LiteralPath $root)) { [void](New-Item -ItemType Directory -Path $root) }
  rdw_acl_protect_of $root
  $dir = Join-Path $root ('adcs-' + $Nonce)
  if (-not (Test-Path -LiteralPath $dir)) { [void](New-Item -ItemType Directory -Path $dir) }
  return $dir
}

# Gives directory $Path a protected ACL: SYSTEM and Administrators, full
# control, inherited by what is below. Windows-only .NET types: the
# emulated host (tests/windows/emu) replaces this helper.
function rdw_acl_protect_of([string]$Path) {
  $acl = New-Object System.Security.AccessControl.DirectorySecurity
  $acl.SetAccessRuleProtection($true, $false)
  foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
    $id = New-Object System.Security.Principal.SecurityIdentifier $sid
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule $id, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'))
  }
  (Get-Item -LiteralPath $Path).SetAccessControl($acl)
}

# The account name of a SID string (localised, e.g. German "NT-AUTORITAET\SYSTEM");
# Windows-only .NET types: the emulated host replaces this helper.
function rdw_account_of([string]$Sid) {
  return (New-Object System.Security.Principal.SecurityIdentifier $Sid).Translate([System.Security.Principal.NTAccount]).Value
}
