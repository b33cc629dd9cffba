# reg_lib.ps1, reg_read.ps1, reg_set.ps1 (windows.registry_thumbprint), as
# renewd builds windows.registry.read / windows.registry.set. The registry
# is mocked where the scripts reach it: Test-Path/Get-Item on
# Registry::HKEY_LOCAL_MACHINE\... (a RegistryKey) and Set-ItemProperty.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Get-RenewdFunctions 'windows.registry.set')
  $key = 'HKLM\SOFTWARE\Microsoft\Cryptography\MSCEP'
  $reg = 'Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Cryptography\MSCEP'
  $old = 'AB' * 20
  $new = 'CD' * 20
  # the key exists and holds VALUES
  function Use-Key([hashtable]$Values) {
    Mock Test-Path { $true } -ParameterFilter { $LiteralPath -eq $reg }
    $script:RegValues = $Values
    Mock Get-Item { New-RenewdRegKey $script:RegValues } -ParameterFilter { $LiteralPath -eq $reg }
    Mock Set-ItemProperty { }
  }
}

Describe 'rdw_regpath' {
  It 'maps HKLM\path and HKLM:\path to the Registry provider' {
    rdw_regpath $key | Should -BeExactly $reg
    rdw_regpath 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP' | Should -BeExactly $reg
  }
  It 'rejects <v>' -ForEach @(
    @{ v = 'HKCU\Software\x' }, @{ v = 'HKLM\' }, @{ v = 'HKLM\SOFTWARE\..\SAM' }, @{ v = '' },
    @{ v = "HKLM\SOFTWARE\x`n" }, @{ v = "HKLM\SOFTWARE\x`r`nHKLM\y" }
  ) {
    { rdw_regpath $v } | Should -Throw 'rd_fail: registry key * is not HKLM*'
  }
}

Describe 'windows.registry.read' {
  It 'reports a missing key' {
    Mock Test-Path { $false } -ParameterFilter { $LiteralPath -eq $reg }
    $r = Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = 'EncryptionTemplate' }
    $r.key_exists | Should -BeFalse
    $r.exists | Should -BeFalse
  }
  It 'reports a missing value' {
    Use-Key @{ Other = 'x' }
    $r = Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = 'Thumb' }
    $r.key_exists | Should -BeTrue
    $r.exists | Should -BeFalse
  }
  It 'reads REG_SZ as text' {
    Use-Key @{ Thumb = "ab cd`u{2019}`$(x)" }
    $r = Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = 'Thumb' }
    $r.kind | Should -BeExactly 'String'
    $r.text | Should -BeExactly "ab cd`u{2019}`$(x)"
    $r.hex | Should -BeNullOrEmpty
  }
  It 'reads REG_BINARY as uppercase hex, one byte too' {
    Use-Key @{ Serial = [byte[]](0x0a, 0xff, 0x00) }
    (Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = 'Serial' }).hex | Should -BeExactly '0AFF00'
    Use-Key @{ Serial = [byte[]](0x7f) }
    $r = Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = 'Serial' }
    $r.kind | Should -BeExactly 'Binary'
    $r.hex | Should -BeExactly '7F'
  }
  It 'needs a value name' {
    { Invoke-RenewdScript 'windows.registry.read' @{ key = $key; value = '' } } | Should -Throw 'rd_fail: no registry value name'
  }
}

Describe 'windows.registry.set' {
  It 'writes REG_SZ while it holds the expected value (case and spaces ignored)' {
    Use-Key @{ Thumb = ($old.ToLower() -replace '(..)', '$1 ') }
    $r = Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Thumb'; kind = 'REG_SZ'; expect = $old; new = $new }
    $r.state | Should -BeExactly 'set'
    Should -Invoke Set-ItemProperty -Times 1 -Exactly -ParameterFilter {
      $LiteralPath -eq $reg -and $Name -eq 'Thumb' -and $Value -is [string] -and $Value -ceq $new -and $Type -eq 'String'
    }
  }
  It 'writes REG_BINARY as bytes' {
    Use-Key @{ Serial = [byte[]](1, 2) }
    $r = Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Serial'; kind = 'REG_BINARY'; expect = '0102'; new = 'a0B1' }
    $r.state | Should -BeExactly 'set'
    $r.found | Should -BeExactly '0102'
    Should -Invoke Set-ItemProperty -Times 1 -Exactly -ParameterFilter {
      $Type -eq 'Binary' -and $Value -is [byte[]] -and ($Value -join ',') -eq '160,177'
    }
  }
  It 'writes nothing when it already holds the new value' {
    Use-Key @{ Thumb = $new.ToLower() }
    (Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Thumb'; kind = 'REG_SZ'; expect = $old; new = $new }).state |
      Should -BeExactly 'already'
    Should -Invoke Set-ItemProperty -Times 0 -Exactly
  }
  It 'writes nothing on a mismatch, and reports what it found' {
    Use-Key @{ Thumb = 'EE' * 20 }
    $r = Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Thumb'; kind = 'REG_SZ'; expect = $old; new = $new }
    $r.state | Should -BeExactly 'mismatch'
    $r.found | Should -BeExactly ('EE' * 20)
    Should -Invoke Set-ItemProperty -Times 0 -Exactly
  }
  It 'carries a hostile value to Set-ItemProperty unchanged' {
    $v = "x'`"`u{2018}`u{2019}`u{201C}`u{201D}`$(Remove-Item C:\)``n@'`r`n'@" + ('y' * 70000)
    Use-Key @{ Note = 'before' }
    (Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Note'; kind = 'REG_SZ'; expect = 'before'; new = $v }).state |
      Should -BeExactly 'set'
    Should -Invoke Set-ItemProperty -Times 1 -Exactly -ParameterFilter { $Value -ceq $v }
  }
  It 'refuses <why>' -ForEach @(
    @{ why = 'a missing value'; vals = @{ Other = 'x' }; kind = 'REG_SZ'; new = 'x'; msg = 'rd_fail: *\Thumb does not exist' }
    @{ why = 'REG_BINARY where REG_SZ is'; vals = @{ Thumb = 'x' }; kind = 'REG_BINARY'; new = '00'; msg = 'rd_fail: *\Thumb is String, not REG_BINARY' }
    @{ why = 'another type'; vals = @{ Thumb = 'x' }; kind = 'REG_DWORD'; new = '1'; msg = "rd_fail: registry value type 'REG_DWORD' is not*" }
    @{ why = 'odd hex'; vals = @{ Thumb = [byte[]](1) }; kind = 'REG_BINARY'; new = 'ABC'; msg = "rd_fail: new value 'ABC' is not hex bytes" }
    @{ why = 'hex with a newline'; vals = @{ Thumb = [byte[]](1) }; kind = 'REG_BINARY'; new = "AB`n"; msg = 'rd_fail: new value * is not hex bytes' }
  ) {
    Use-Key $vals
    $expect = if ($kind -eq 'REG_BINARY') { '01' } else { 'x' }
    { Invoke-RenewdScript 'windows.registry.set' @{ key = $key; value = 'Thumb'; kind = $kind; expect = $expect; new = $new } } |
      Should -Throw $msg
    Should -Invoke Set-ItemProperty -Times 0 -Exactly
  }
}
