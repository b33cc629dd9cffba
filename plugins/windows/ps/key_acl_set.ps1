# key_acl_set.ps1 — grants ($P.op "grant") or removes ("revoke") an
# explicit allow rule for $P.account on a private key file ($P.path, which
# must be a machine key file: directly in Keys (CNG), RSA\MachineKeys or
# DSS\MachineKeys (CAPI) under %ProgramData%\Microsoft\Crypto): "read" is
# Read, Synchronize; "full" FullControl. Only the DACL is written.
# {rights, text}. Refused: SystemKeys (and RSA\S-1-5-18), which hold the
# keys private to LocalSystem, not the machine's shared keys a certificate
# in LocalMachine\<store> uses ("Key Storage and Retrieval",
# https://learn.microsoft.com/windows/win32/seccng/key-storage-and-retrieval):
# granting a service account read there would expose SYSTEM's own keys.
$path = [string]$P.path
$base = (Join-Path $env:ProgramData 'Microsoft\Crypto') + '\'
if (-not $path.StartsWith($base, [System.StringComparison]::OrdinalIgnoreCase) -or $path.Contains('..') -or
  $path.Substring($base.Length) -notmatch '^(Keys|RSA\\MachineKeys|DSS\\MachineKeys)\\[^\\/\x00-\x1f]+\z') {
  rd_fail "key file '$path' is not a machine key file in $base(Keys, RSA\MachineKeys, DSS\MachineKeys)"
}
if (-not (Test-Path -LiteralPath $path)) { rd_fail "key file $path does not exist" }
if ($P.rights -eq 'full') { $want = [System.Security.AccessControl.FileSystemRights]'FullControl' }
elseif ($P.rights -eq 'read') { $want = [System.Security.AccessControl.FileSystemRights]'Read, Synchronize' }
else { rd_fail "rights '$($P.rights)' is not read or full" }
$sid = rdw_sid ([string]$P.account)
if (@('grant', 'revoke') -notcontains [string]$P.op) { rd_fail "operation '$($P.op)' is not grant or revoke" }
rdw_acl_change_of $path $sid $want ([string]$P.op)
$mask = rdw_acl_mask_of $path $sid.Value
rd_out ([ordered]@{ rights = $mask; text = $(if ($mask) { ([System.Security.AccessControl.FileSystemRights]$mask).ToString() } else { '' }) })
