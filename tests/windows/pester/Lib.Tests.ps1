# lib.ps1 (every script starts with it), as built into windows.store.list.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Get-RenewdFunctions 'windows.registry.read')
}

Describe 'the test host' {
  It 'runs the tests under strict mode' { { $null = $undefinedvar } | Should -Throw }
}

Describe 'rdw_thumb' {
  It 'uppercases a 40-digit hex thumbprint' {
    rdw_thumb ('ab' * 20) 'x' | Should -BeExactly ('AB' * 20)
  }
  It 'rejects <v>' -ForEach @(
    @{ v = '' }, @{ v = 'A' * 39 }, @{ v = 'A' * 41 }, @{ v = ('A' * 39) + 'G' },
    @{ v = ('A' * 40) + "`n" }, @{ v = "'; Remove-Item C:\ -Recurse; '" }
  ) {
    { rdw_thumb $v 'new certificate' } | Should -Throw 'rd_fail: new certificate *is not a 40-digit hex thumbprint'
  }
}

Describe 'rdw_store' {
  It 'maps LocalMachine\name to Cert:\' {
    rdw_store 'LocalMachine\My' | Should -BeExactly 'Cert:\LocalMachine\My'
    rdw_store 'LocalMachine\Remote Desktop' | Should -BeExactly 'Cert:\LocalMachine\Remote Desktop'
  }
  It 'rejects <v>' -ForEach @(
    @{ v = 'CurrentUser\My' }, @{ v = 'LocalMachine\' }, @{ v = 'LocalMachine\My\..\Root' },
    @{ v = 'LocalMachine\My*' }, @{ v = "LocalMachine\My`n" }, @{ v = "LocalMachine\My`r`nX" }, @{ v = 'LocalMachine\My$(calc)' }
  ) {
    { rdw_store $v } | Should -Throw 'rd_fail: certificate store *'
  }
}

Describe 'rdw_epoch' {
  It 'counts UTC seconds since 1970 whatever the DateTime kind' {
    rdw_epoch ([DateTime]::new(1970, 1, 1, 0, 0, 0, [DateTimeKind]::Utc)) | Should -Be 0
    rdw_epoch ([DateTime]::new(2026, 11, 30, 8, 0, 0, [DateTimeKind]::Utc)) | Should -Be 1796025600
    $o = [DateTimeOffset]::new(2026, 11, 30, 10, 0, 0, [TimeSpan]::FromHours(2))
    rdw_epoch $o.LocalDateTime | Should -Be 1796025600
  }
}

Describe 'rdw_find' {
  BeforeAll {
    $a = New-RenewdCert 'CN=a'
    $b = New-RenewdCert 'CN=b'
  }
  It 'returns the one certificate with that thumbprint from Get-ChildItem Cert:\...' {
    Mock Get-ChildItem { @($a, $b) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    $r = rdw_find 'Cert:\LocalMachine\My' $b.Thumbprint
    $r.Thumbprint | Should -BeExactly $b.Thumbprint
    @($r).Count | Should -Be 1
  }
  It 'returns nothing when it is absent, or the store is empty' {
    Mock Get-ChildItem { @($a) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    rdw_find 'Cert:\LocalMachine\My' $b.Thumbprint | Should -BeNullOrEmpty
    Mock Get-ChildItem { } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    rdw_find 'Cert:\LocalMachine\My' $b.Thumbprint | Should -BeNullOrEmpty
  }
}

Describe 'rdw_native' {
  It 'returns the exit code and folds stderr into the text, even with ErrorActionPreference Stop' {
    $ErrorActionPreference = 'Stop'
    $r = rdw_native '/bin/sh' @('-c', 'echo out; echo err >&2; exit 4')
    $r.exit | Should -Be 4
    # two pipes: their lines arrive in no fixed order
    (@($r.text -split "`r`n" | Sort-Object) -join ',') | Should -BeExactly 'err,out'
  }
  It 'passes each argument as one argument, quotes and all' {
    $arg = "a b `"c`" 'd' `$(x) ``e"
    $r = rdw_native '/bin/sh' @('-c', 'printf "%s|" "$@"', 'sh', $arg, '')
    $r.exit | Should -Be 0
    $r.text | Should -BeExactly ($arg + '||')
  }
}
