# Every validation of a value from $P ends with \z, not $: in .NET a `$`
# also matches before a final "\n"
# (https://learn.microsoft.com/dotnet/standard/base-types/anchors-in-regular-expressions),
# so "<good value>`n" got through. Each script is run as renewd builds it,
# with the value alone, then with a trailing newline: the first passes the
# check (and fails or not later), the second is refused by rd_fail before
# anything is touched. And key_acl_set refuses a key outside the machine
# key folders (SystemKeys holds LocalSystem's private keys:
# https://learn.microsoft.com/windows/win32/seccng/key-storage-and-retrieval).
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  # %ProgramData% as Windows spells it; Join-Path as Windows joins (with
  # '\'): the test host is Linux
  $env:ProgramData = 'C:\ProgramData'
  Mock Join-Path { ($Path.TrimEnd('\') + '\' + $ChildPath) }
  # nothing on the machine may be reached by a refused value
  Mock Test-Path { $false }
  Mock New-Item { throw 'New-Item reached' }
  Mock Get-Item { throw 'Get-Item reached' }
  Mock Remove-Item { throw 'Remove-Item reached' }
}

Describe 'anchors: a trailing newline is refused' {
  It 'adcs work directory id (rdw_workdir)' {
    { Invoke-RenewdScript 'adcs.new' @{ thumbprint = 'AB' * 20; store = 'LocalMachine\My'; nonce = "0123456789abcdef`n" } } |
      Should -Throw "rd_fail: work directory id *is not 16 hex digits"
  }
  It 'adcs.cleanup: a nonce with a newline removes no directory' {
    $r = Invoke-RenewdScript 'adcs.cleanup' @{ request_thumbprints = @(); nonce = "0123456789abcdef`n" }
    $r.dir_removed | Should -BeFalse
    Should -Invoke Test-Path -Times 0 -Exactly
  }
  It 'adcs.cleanup: the same nonce without it is looked for' {
    $r = Invoke-RenewdScript 'adcs.cleanup' @{ request_thumbprints = @(); nonce = '0123456789abcdef' }
    $r.dir_removed | Should -BeFalse
    Should -Invoke Test-Path -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq 'C:\ProgramData\renewd\adcs-0123456789abcdef' }
  }
  It 'adcs.task: CA configuration <c>' -ForEach @(@{ c = "ca01\Corp CA`n" }, @{ c = "ca01\Corp CA`r`n" }) {
    { Invoke-RenewdScript 'adcs.task' @{ action = 'submit'; config = $c; request_id = ''; wait = 30; nonce = '0123456789abcdef' } } |
      Should -Throw "rd_fail: CA configuration *is not <CA host>\<CA name>"
  }
  It 'adcs.task: request id' {
    { Invoke-RenewdScript 'adcs.task' @{ action = 'retrieve'; config = 'ca01\Corp CA'; request_id = "42`n"; wait = 30; nonce = '0123456789abcdef' } } |
      Should -Throw "rd_fail: request id *is not a number"
  }
  It 'key_acl_pool: application pool name' {
    { Invoke-RenewdScript 'windows.key_acl.pool' @{ app_pool = "SCEP`n" } } | Should -Throw "rd_fail: application pool *is not a pool name"
  }
  It 'ndes_getcacaps: the URL' {
    $u = "http://localhost/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps`n"
    { Invoke-RenewdScript 'windows.ndes.getcacaps' @{ url = $u; timeout = 5 } } | Should -Throw "rd_fail: url *is not an NDES GetCACaps URL"
  }
  It 'rdw_sid: a SID with a newline is not taken as a SID' {
    . (Get-RenewdFunctions 'windows.key_acl.set')
    # (SecurityIdentifier and NTAccount are Windows-only: mocked) as a SID
    # it would be S-1-5-18; as an account name it cannot be resolved
    Mock New-Object { 'sid:' + $ArgumentList[0] } -ParameterFilter { $TypeName -eq 'System.Security.Principal.SecurityIdentifier' }
    Mock New-Object { throw 'no such account' } -ParameterFilter { $TypeName -eq 'System.Security.Principal.NTAccount' }
    { rdw_sid "S-1-5-18`n" } | Should -Throw "rd_fail: account 'S-1-5-18*' cannot be resolved on this host: no such account"
    rdw_sid 'S-1-5-18' | Should -BeExactly 'sid:S-1-5-18'
  }
}

Describe 'windows.key_acl.set: only machine key files' {
  It 'refuses <p>' -ForEach @(
    @{ p = 'C:\ProgramData\Microsoft\Crypto\SystemKeys\abc_1234' },
    @{ p = 'C:\ProgramData\Microsoft\Crypto\RSA\S-1-5-18\abc_1234' },
    @{ p = 'C:\ProgramData\Microsoft\Crypto\abc_1234' },
    @{ p = 'C:\ProgramData\Microsoft\Crypto\Keys\sub\abc_1234' },
    @{ p = 'C:\ProgramData\Microsoft\Crypto\Keys\..\SystemKeys\abc' },
    @{ p = "C:\ProgramData\Microsoft\Crypto\Keys\abc`n" },
    @{ p = 'C:\Windows\abc' }
  ) {
    { Invoke-RenewdScript 'windows.key_acl.set' @{ path = $p; account = 'S-1-5-20'; rights = 'read'; op = 'grant' } } |
      Should -Throw "rd_fail: key file * is not a machine key file in C:\ProgramData\Microsoft\Crypto\(Keys, RSA\MachineKeys, DSS\MachineKeys)"
  }
  It 'accepts <p> (and goes on to look for it)' -ForEach @(
    @{ p = 'C:\ProgramData\Microsoft\Crypto\Keys\abc_1234' },
    @{ p = 'C:\ProgramData\Microsoft\Crypto\RSA\MachineKeys\abc_1234' },
    @{ p = 'c:\programdata\microsoft\crypto\dss\machinekeys\abc_1234' }
  ) {
    { Invoke-RenewdScript 'windows.key_acl.set' @{ path = $p; account = 'S-1-5-20'; rights = 'read'; op = 'grant' } } |
      Should -Throw "rd_fail: key file $p does not exist"
  }
}
