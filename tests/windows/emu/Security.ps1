# Security.ps1 — part of RenewdWindows.psm1 (dot-sourced): accounts, file
# ACLs and key containers of the emulated machine, and the replacements of
# the scripts' rdw_*_of helpers (plugins/windows/ps: the only places the
# scripts call Windows-only .NET types, SecurityIdentifier, NTAccount,
# FileSystemSecurity, CspKeyContainerInfo, CngKey, X509Store of
# LocalMachine, which throw PlatformNotSupportedException off Windows).
# A script's own function is found before a module's, so the replacements
# are installed with PreCommandLookupAction
# (https://learn.microsoft.com/dotnet/api/system.management.automation.commandinvocationintrinsics.precommandlookupaction):
# every lookup of rdw_<x>_of runs Invoke-RenewdEmu<x> instead, with the
# same arguments. Only those helpers; nothing else of a script is changed.

# ---------------------------------------------------------------- accounts
# SIDs and names: the well-known ones
# (https://learn.microsoft.com/windows/win32/secauthz/well-known-sids,
# https://learn.microsoft.com/windows-server/identity/ad-ds/manage/understand-security-identifiers)
# and the machine's others in emu/accounts, "<SID> <name>" a line
# (domain accounts, "IIS AppPool\<pool>" virtual accounts). Names compare
# without case. An unknown name throws what NTAccount.Translate throws
# (its message; IdentityNotMappedException itself cannot be made off Windows,
# https://learn.microsoft.com/dotnet/api/system.security.principal.ntaccount.translate).
function Get-RenewdAccounts() {
  $a = [ordered]@{ 'S-1-5-18' = 'NT AUTHORITY\SYSTEM'; 'S-1-5-19' = 'NT AUTHORITY\LOCAL SERVICE'
    'S-1-5-20' = 'NT AUTHORITY\NETWORK SERVICE'; 'S-1-5-32-544' = 'BUILTIN\Administrators' }
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'accounts')
  if ([System.IO.File]::Exists($f)) {
    foreach ($l in [System.IO.File]::ReadAllLines($f)) {
      $p = $l.Split(' ', 2)
      if ($p.Count -eq 2) { $a[$p[0]] = $p[1] }
    }
  }
  return $a
}

function Invoke-RenewdEmuSid([string]$Account) {
  if ($Account -match '^S-1-[0-9]+(-[0-9]+)*\z') { return [pscustomobject]@{ Value = $Account } }
  $a = Get-RenewdAccounts
  foreach ($sid in $a.Keys) {
    if ([string]::Equals($a[$sid], $Account, [System.StringComparison]::OrdinalIgnoreCase)) { return [pscustomobject]@{ Value = $sid } }
  }
  throw 'Some or all identity references could not be translated.'
}

function Invoke-RenewdEmuAccount([string]$Sid) {
  $a = Get-RenewdAccounts
  if ($a.Contains($Sid)) { return $a[$Sid] }
  throw 'Some or all identity references could not be translated.'
}

# ---------------------------------------------------------------- ACLs
# A file's or directory's DACL: emu/acl.json, {"<path, lowercase, \>":
# {"<SID>": <FileSystemRights>, ...}}, the explicit allow rules renewd
# wrote (the inherited ones of a MachineKeys file, SYSTEM and
# Administrators, are not listed: no script asks for them). Granting adds
# the rights to the SID's rule, revoking removes them
# (FileSystemSecurity.AddAccessRule / RemoveAccessRule:
# https://learn.microsoft.com/dotnet/api/system.security.accesscontrol.filesystemsecurity).
# "protected" lists a directory whose inheritance was cut
# (SetAccessRuleProtection(true, false): only its own rules remain).
function Get-RenewdAclKey([string]$Path) { return ($Path -replace '/', '\').ToLowerInvariant() }

function Read-RenewdAcls() {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'acl.json')
  $h = [ordered]@{}
  if (-not [System.IO.File]::Exists($f)) { return $h }
  $o = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
  foreach ($p in $o.PSObject.Properties) {
    $r = [ordered]@{}
    foreach ($q in $p.Value.PSObject.Properties) { $r[$q.Name] = $q.Value }
    $h[$p.Name] = $r
  }
  return $h
}

function Write-RenewdAcls($Acls) {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'acl.json')
  [System.IO.File]::WriteAllText($f, (ConvertTo-Json -InputObject $Acls -Depth 4))
}

function Get-RenewdAclMask([string]$Path, [string]$Sid) {
  $r = (Read-RenewdAcls)[(Get-RenewdAclKey $Path)]
  if ($r -and $r.Contains($Sid) -and $r[$Sid] -isnot [string]) { return [long]$r[$Sid] }
  return 0
}

function Invoke-RenewdEmuAclMask([string]$Path, [string]$Sid) {
  if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $Path)) { throw "Cannot find path '$Path' because it does not exist." }
  return Get-RenewdAclMask $Path $Sid
}

function Invoke-RenewdEmuAclChange([string]$Path, $Sid, $Rights, [string]$Op) {
  if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $Path)) { throw "Cannot find path '$Path' because it does not exist." }
  $acls = Read-RenewdAcls
  $k = Get-RenewdAclKey $Path
  if (-not $acls.Contains($k)) { $acls[$k] = [ordered]@{} }
  $s = [string]$Sid.Value
  $now = $(if ($acls[$k].Contains($s)) { [long]$acls[$k][$s] } else { 0 })
  $now = $(if ($Op -eq 'grant') { $now -bor [long]$Rights } else { $now -band -bnot [long]$Rights })
  if ($now) { $acls[$k][$s] = $now } else { $acls[$k].Remove($s) }
  Write-RenewdAcls $acls
}

function Invoke-RenewdEmuAclProtect([string]$Path) {
  $acls = Read-RenewdAcls
  $acls[(Get-RenewdAclKey $Path)] = [ordered]@{ protected = 'yes'; 'S-1-5-18' = 2032127; 'S-1-5-32-544' = 2032127 }
  Write-RenewdAcls $acls
}

# ---------------------------------------------------------------- key containers
# A machine key's unique (file) name, as Windows names it ("Key Storage
# and Retrieval",
# https://learn.microsoft.com/windows/win32/seccng/key-storage-and-retrieval):
# CAPI, the MD5 of the lowercase container name, "_" and the machine GUID;
# CNG, here the SHA-1 of the name (Windows' own hash is undocumented), "_"
# and the machine GUID. The emulated machine's GUID (HKLM\SOFTWARE\
# Microsoft\Cryptography\MachineGuid) is fixed; tests/e2e/lib/winhost.sh
# seeds keys with the same rule.
$script:RenewdMachineGuid = '6f1c2a3b-0c4d-4e5f-8a9b-0123456789ab'
function Get-RenewdKeyFileName([long]$ProvType, [string]$Container) {
  if ($ProvType -eq 0) {
    $h = [System.Security.Cryptography.SHA1]::HashData([System.Text.Encoding]::UTF8.GetBytes($Container))
    return [System.Convert]::ToHexString($h).ToLowerInvariant() + '_' + $script:RenewdMachineGuid
  }
  $h = [System.Security.Cryptography.MD5]::HashData([System.Text.Encoding]::UTF8.GetBytes($Container.ToLowerInvariant()))
  return [System.Convert]::ToHexString($h).ToLowerInvariant() + '_' + $script:RenewdMachineGuid
}

# The key file of a container relative to C:\ProgramData\Microsoft\Crypto
function Get-RenewdKeyFileRel([long]$ProvType, [string]$Container) {
  $d = $(if ($ProvType -eq 0) { 'Keys' } elseif ($ProvType -eq 3 -or $ProvType -eq 13) { 'DSS\MachineKeys' } else { 'RSA\MachineKeys' })
  return $d + '\' + (Get-RenewdKeyFileName $ProvType $Container)
}

function Get-RenewdKeyFilePath([string]$Rel) {
  return [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'c', 'ProgramData', 'Microsoft', 'Crypto', ($Rel -replace '\\', '/'))
}

# CspKeyContainerInfo.UniqueKeyContainerName / CngKey.UniqueName of an
# existing container: opening one that has no key file fails as Windows
# does ("Keyset does not exist", NTE_BAD_KEYSET 0x80090016).
function Invoke-RenewdEmuKeyUniqueName([long]$ProvType, [string]$ProvName, [string]$Container, [bool]$Machine) {
  $rel = Get-RenewdKeyFileRel $ProvType $Container
  if (-not $Machine -or -not [System.IO.File]::Exists((Get-RenewdKeyFilePath $rel))) { throw 'Keyset does not exist' }
  return $rel.Substring($rel.LastIndexOf('\') + 1)
}

# A private key written where Windows keeps it: PKCS#8 PEM (not the
# provider's format), after the container's properties, one "Name: value"
# line each (a real key file holds its container name too), which
# certutil -repairstore reads back.
function Write-RenewdKeyFile($Key, [string]$Container, [string]$Provider, [long]$ProvType, [long]$KeySpec) {
  $rel = Get-RenewdKeyFileRel $ProvType $Container
  $path = Get-RenewdKeyFilePath $rel
  [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($path))
  $head = "Container: $Container`nProvider: $Provider`nProviderType: $ProvType`nKeySpec: $KeySpec`n"
  [System.IO.File]::WriteAllText($path, $head + $Key.ExportPkcs8PrivateKeyPem() + "`n")
  return $rel
}

# CERT_KEY_PROV_INFO_PROP_ID of a store entry (see RenewdWindows.psm1)
function Write-RenewdKeyProv([string]$File, [string]$Container, [string]$Provider, [long]$ProvType, [long]$KeySpec, [string]$Rel) {
  [System.IO.File]::WriteAllLines($File, [string[]]@($Container, $Provider, $ProvType, 32, $KeySpec, $Rel))
}

# X509Store.Add of LocalMachine\<name>: the certificate, no key link
# (https://learn.microsoft.com/dotnet/api/system.security.cryptography.x509certificates.x509store.add)
function Invoke-RenewdEmuStoreAdd([string]$Name, $Cert) {
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', $Name)
  if (-not [System.IO.Directory]::Exists($d)) { throw "The system cannot find the file specified. (store $Name)" }
  [System.IO.File]::WriteAllBytes([System.IO.Path]::Combine($d, $Cert.Thumbprint + '.cer'), $Cert.RawData)
}

# rdw_<x>_of -> Invoke-RenewdEmu<x>
$script:RenewdHelpers = @{ rdw_sid_of = 'Invoke-RenewdEmuSid'; rdw_account_of = 'Invoke-RenewdEmuAccount'
  rdw_acl_mask_of = 'Invoke-RenewdEmuAclMask'; rdw_acl_change_of = 'Invoke-RenewdEmuAclChange'
  rdw_acl_protect_of = 'Invoke-RenewdEmuAclProtect'; rdw_key_unique_name_of = 'Invoke-RenewdEmuKeyUniqueName'
  rdw_store_add_of = 'Invoke-RenewdEmuStoreAdd' }

function Register-RenewdHelpers() {
  $ExecutionContext.InvokeCommand.PreCommandLookupAction = {
    param([string]$Name, $Lookup)
    $to = $script:RenewdHelpers[$Name]
    if ($to) {
      $Lookup.CommandScriptBlock = [scriptblock]::Create("$to @args")
      $Lookup.StopSearch = $true
    }
  }
}
