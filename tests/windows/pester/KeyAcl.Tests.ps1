# key_acl_read.ps1, key_acl_set.ps1, key_acl_pool.ps1 (windows.key_acl),
# as renewd builds them, with the parameters key_acl.c packs; each output
# is checked for the shape key_acl.c, apppool.c and keyfile.c read.
# (install_remove.ps1 is in Restore.Tests.ps1.)
# The Windows boundary, mocked as Microsoft documents it (the types are
# Windows only: PlatformNotSupportedException elsewhere):
# - a key file's DACL: FileInfo.GetAccessControl('Access') ->
#   FileSecurity; GetAccessRules(explicit, inherited, [SecurityIdentifier])
#   gives FileSystemAccessRules (IdentityReference, FileSystemRights,
#   AccessControlType); AddAccessRule / RemoveAccessRule; SetAccessControl:
#   https://learn.microsoft.com/dotnet/api/system.security.accesscontrol.filesecurity
#   https://learn.microsoft.com/dotnet/api/system.security.accesscontrol.objectsecurity.removeaccessrule
# - accounts: rdw_sid (NTAccount.Translate / SecurityIdentifier), mocked;
# - IIS: Get-Item IIS:\AppPools\<pool> .processModel (identityType,
#   userName):
#   https://learn.microsoft.com/iis/configuration/system.applicationhost/applicationpools/add/processmodel
# - the key facts: rdw_keyinfo (cert_lib.ps1, tested in CertLib.Tests.ps1).
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Get-RenewdFunctions 'windows.key_acl.read')
  $env:ProgramData = 'C:\ProgramData'
  $crypto = 'C:\ProgramData\Microsoft\Crypto'
  $ra = New-RenewdCert 'CN=ndes-ra'
  $svcSid = 'S-1-5-21-1000-2000-3000-1105'
  $keyPath = "$crypto\RSA\MachineKeys\0a1b2c3d_4e5f"
  # FileSystemRights by name (the enum exists off Windows; the ACL types do not)
  function Rights([string]$Names) { [int][System.Security.AccessControl.FileSystemRights]$Names }
  # an access rule as GetAccessRules returns it
  function New-Rule([string]$Sid, [string]$Rights, [string]$Type = 'Allow') {
    [pscustomobject]@{ IdentityReference = [pscustomobject]@{ Value = $Sid }; FileSystemRights = [System.Security.AccessControl.FileSystemRights]$Rights
                       AccessControlType = $Type }
  }
  # a key file whose DACL holds RULES; $KeyState.acl is the FileSecurity
  $KeyState = @{}
  function Use-KeyFile([object[]]$Rules) {
    $acl = [pscustomobject]@{ Rules = [System.Collections.Generic.List[object]]::new(); Log = [System.Collections.Generic.List[string]]::new() }
    foreach ($r in $Rules) { $acl.Rules.Add($r) }
    $acl | Add-Member ScriptMethod GetAccessRules {
      param($explicit, $inherited, $type)
      if (-not $explicit -or -not $inherited -or $type -ne [System.Security.Principal.SecurityIdentifier]) { throw 'GetAccessRules: not as the scripts ask' }
      return , $this.Rules.ToArray()
    }
    $acl | Add-Member ScriptMethod AddAccessRule { param($r) $this.Log.Add('add'); $this.Rules.Add($r) }
    $acl | Add-Member ScriptMethod RemoveAccessRule {
      param($r)
      $this.Log.Add('remove')
      $rm = [int]$r.FileSystemRights
      foreach ($x in @($this.Rules)) {
        if ($x.IdentityReference.Value -eq $r.IdentityReference.Value -and $x.AccessControlType -eq $r.AccessControlType) {
          $x.FileSystemRights = [System.Security.AccessControl.FileSystemRights]([int]$x.FileSystemRights -band -bnot $rm)
        }
      }
      return $true
    }
    $KeyState.acl = $acl
    $KeyState.set = 0
    Mock Get-Item {
      $f = [pscustomobject]@{ FullName = $keyPath }
      $f | Add-Member ScriptMethod GetAccessControl { param($s) if ($s -ne 'Access') { throw "GetAccessControl($s)" }; $KeyState.acl }
      $f | Add-Member ScriptMethod SetAccessControl { param($a) $KeyState.set++ }
      $f
    } -ParameterFilter { $LiteralPath -eq $keyPath -and $Force }
  }
  Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
  Mock rdw_sid { [pscustomobject]@{ Value = $svcSid } } -ParameterFilter { $Account -eq 'CORP\svc_ndes' }
  Mock rdw_sid { [pscustomobject]@{ Value = 'S-1-5-20' } } -ParameterFilter { $Account -eq 'NT AUTHORITY\NETWORK SERVICE' }
}

Describe 'windows.key_acl.read' {
  BeforeEach {
    Mock Get-ChildItem { @($ra) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    Mock rdw_keyinfo { [ordered]@{ prov_type = 24; prov_name = 'Microsoft Enhanced RSA and AES Cryptographic Provider'; container = 'c1'; flags = 32
                                   key_spec = 1; unique_name = '0a1b2c3d_4e5f'; crypto_dir = $crypto; files = @('RSA\MachineKeys'); error = $null } }
  }
  It 'reports the rights the account has on the key file, by SID, allow rules only, explicit and inherited' {
    Use-KeyFile @((New-Rule $svcSid 'Read'), (New-Rule $svcSid 'Synchronize'), (New-Rule $svcSid 'Write' 'Deny'), (New-Rule 'S-1-5-18' 'FullControl'))
    $r = Invoke-RenewdScript 'windows.key_acl.read' @{ store = 'LocalMachine\My'; thumbprint = $ra.Thumbprint; account = 'CORP\svc_ndes' }
    $r.found | Should -BeTrue
    $r.has_key | Should -BeTrue
    $r.sid | Should -BeExactly $svcSid
    $r.key.unique_name | Should -BeExactly '0a1b2c3d_4e5f'
    $r.acl.'RSA\MachineKeys'.rights | Should -Be (Rights 'Read, Synchronize')
    $r.acl.'RSA\MachineKeys'.text | Should -BeExactly 'Read, Synchronize'
    $script:RenewdOut | Should -Match '"files":\["RSA\\\\MachineKeys"\]'
  }
  # key_acl.c prints an empty text as "none" / "no rights"; FileSystemRights
  # has no member for 0, so its ToString() would be "0"
  It 'reports no rights as 0 and an empty text' {
    Use-KeyFile @((New-Rule 'S-1-5-18' 'FullControl'))
    $r = Invoke-RenewdScript 'windows.key_acl.read' @{ store = 'LocalMachine\My'; thumbprint = $ra.Thumbprint; account = 'CORP\svc_ndes' }
    $r.acl.'RSA\MachineKeys'.rights | Should -Be 0
    $r.acl.'RSA\MachineKeys'.text | Should -BeExactly ''
  }
  It 'reads no DACL when the key file is in no machine key folder' {
    Mock rdw_keyinfo { [ordered]@{ prov_type = 0; prov_name = 'Microsoft Software Key Storage Provider'; unique_name = 'x'; crypto_dir = $crypto; files = @() } }
    Mock Get-Item { throw 'reached' }
    $r = Invoke-RenewdScript 'windows.key_acl.read' @{ store = 'LocalMachine\My'; thumbprint = $ra.Thumbprint; account = 'CORP\svc_ndes' }
    $script:RenewdOut | Should -Match '"acl":\{\}'
    $script:RenewdOut | Should -Match '"files":\[\]'
  }
  It 'reports a certificate that is not there' {
    Mock Get-ChildItem { @() } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    $r = Invoke-RenewdScript 'windows.key_acl.read' @{ store = 'LocalMachine\My'; thumbprint = 'AB' * 20; account = 'CORP\svc_ndes' }
    $r.found | Should -BeFalse
    $r.key | Should -BeNullOrEmpty
    $r.sid | Should -BeExactly $svcSid
  }
}

Describe 'windows.key_acl.set' {
  BeforeEach {
    Mock Test-Path { $true } -ParameterFilter { $LiteralPath -eq $keyPath }
    # FileSystemAccessRule(identity, rights, inheritance, propagation, type)
    Mock New-Object {
      [pscustomobject]@{ IdentityReference = $ArgumentList[0]; FileSystemRights = $ArgumentList[1]; Inheritance = $ArgumentList[2]
                         Propagation = $ArgumentList[3]; AccessControlType = $ArgumentList[4] }
    } -ParameterFilter { $TypeName -eq 'System.Security.AccessControl.FileSystemAccessRule' }
  }
  It 'grants <rights>: one explicit allow rule, not inherited, written with SetAccessControl' -ForEach @(
    @{ rights = 'read'; names = 'Read, Synchronize' }, @{ rights = 'full'; names = 'FullControl' }
  ) {
    Use-KeyFile @((New-Rule 'S-1-5-18' 'FullControl'))
    $r = Invoke-RenewdScript 'windows.key_acl.set' @{ path = $keyPath; account = 'CORP\svc_ndes'; rights = $rights; op = 'grant' }
    $r.rights | Should -Be (Rights $names)
    $r.text | Should -BeExactly $names
    $KeyState.acl.Log -join ',' | Should -BeExactly 'add'
    $KeyState.set | Should -Be 1
    $added = $KeyState.acl.Rules[1]
    $added.IdentityReference.Value | Should -BeExactly $svcSid
    [string]$added.Inheritance | Should -BeExactly 'None'
    [string]$added.Propagation | Should -BeExactly 'None'
    [string]$added.AccessControlType | Should -BeExactly 'Allow'
  }
  It 'revokes: removes the rights of the rule, and reports what is left' {
    Use-KeyFile @((New-Rule $svcSid 'Read, Synchronize, Write'))
    $r = Invoke-RenewdScript 'windows.key_acl.set' @{ path = $keyPath; account = 'CORP\svc_ndes'; rights = 'read'; op = 'revoke' }
    $KeyState.acl.Log -join ',' | Should -BeExactly 'remove'
    $r.rights | Should -Be (Rights 'Write')
    $KeyState.set | Should -Be 1
    Use-KeyFile @((New-Rule $svcSid 'Read, Synchronize'))
    $r = Invoke-RenewdScript 'windows.key_acl.set' @{ path = $keyPath; account = 'CORP\svc_ndes'; rights = 'read'; op = 'revoke' }
    $r.rights | Should -Be 0
    $r.text | Should -BeExactly ''
  }
  It 'writes nothing for <why>' -ForEach @(
    @{ why = 'other rights'; rights = 'modify'; op = 'grant'; msg = "rd_fail: rights 'modify' is not read or full" }
    @{ why = 'another operation'; rights = 'read'; op = 'replace'; msg = "rd_fail: operation 'replace' is not grant or revoke" }
  ) {
    Use-KeyFile @()
    { Invoke-RenewdScript 'windows.key_acl.set' @{ path = $keyPath; account = 'CORP\svc_ndes'; rights = $rights; op = $op } } | Should -Throw $msg
    $KeyState.set | Should -Be 0
  }
  It 'fails on a key file that does not exist' {
    Mock Test-Path { $false } -ParameterFilter { $LiteralPath -eq $keyPath }
    { Invoke-RenewdScript 'windows.key_acl.set' @{ path = $keyPath; account = 'CORP\svc_ndes'; rights = 'read'; op = 'grant' } } |
      Should -Throw "rd_fail: key file $keyPath does not exist"
  }
}

Describe 'windows.key_acl.pool' {
  BeforeEach {
    Mock Import-Module { } -ParameterFilter { $Name -eq 'WebAdministration' }
    function Use-Pool([string]$Type, [string]$User = '') {
      $script:Pool = [pscustomobject]@{ processModel = [pscustomobject]@{ identityType = $Type; userName = $User } }
      Mock Get-Item { $script:Pool } -ParameterFilter { $LiteralPath -eq 'IIS:\AppPools\SCEP' }
    }
    Mock New-Object {
      $o = [pscustomobject]@{ Name = $ArgumentList[0] }
      $o | Add-Member ScriptMethod Translate {
        param($t)
        if ($this.Name -eq 'IIS AppPool\SCEP') { return [pscustomobject]@{ Value = 'S-1-5-82-1-2-3-4-5' } }
        if ($this.Name -eq 'CORP\svc_ndes') { return [pscustomobject]@{ Value = $svcSid } }
        throw 'Some or all identity references could not be translated.'
      }
      $o
    } -ParameterFilter { $TypeName -eq 'System.Security.Principal.NTAccount' }
  }
  It 'a built-in identity <t>: its well-known SID' -ForEach @(
    @{ t = 'LocalSystem'; sid = 'S-1-5-18' }, @{ t = 'LocalService'; sid = 'S-1-5-19' }, @{ t = 'NetworkService'; sid = 'S-1-5-20' }
  ) {
    Use-Pool $t
    $r = Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = 'SCEP'; account = 'NT AUTHORITY\NETWORK SERVICE' }
    $r.exists | Should -BeTrue
    $r.identity_type | Should -BeExactly $t
    $r.sid | Should -BeExactly $sid
    $r.user | Should -BeNullOrEmpty
    $r.account_sid | Should -BeExactly 'S-1-5-20'
  }
  It 'ApplicationPoolIdentity: the virtual account IIS AppPool\<pool>' {
    Use-Pool 'ApplicationPoolIdentity'
    $r = Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = 'SCEP'; account = 'CORP\svc_ndes' }
    $r.user | Should -BeExactly 'IIS AppPool\SCEP'
    $r.sid | Should -BeExactly 'S-1-5-82-1-2-3-4-5'
    $r.account_sid | Should -BeExactly $svcSid
  }
  It 'SpecificUser: processModel.userName; one that does not resolve has no SID' {
    Use-Pool 'SpecificUser' 'CORP\svc_ndes'
    (Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = 'SCEP'; account = 'CORP\svc_ndes' }).sid | Should -BeExactly $svcSid
    Use-Pool 'SpecificUser' 'CORP\gone'
    $r = Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = 'SCEP'; account = 'CORP\svc_ndes' }
    $r.user | Should -BeExactly 'CORP\gone'
    $r.sid | Should -BeNullOrEmpty
    $script:RenewdOut | Should -Match '"sid":null'
  }
  It 'a pool that does not exist' {
    Mock Get-Item { } -ParameterFilter { $LiteralPath -eq 'IIS:\AppPools\Nope' }
    $r = Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = 'Nope'; account = 'CORP\svc_ndes' }
    $r.exists | Should -BeFalse
    $r.account_sid | Should -BeExactly $svcSid
  }
}
