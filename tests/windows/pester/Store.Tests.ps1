# store_list.ps1 (windows.inventory), as renewd builds windows.store.list,
# with the parameters the C side sends (plugins/windows/store.c
# win_store_args: "thumbprints" only when there is a thumbprint selector).
# rdw_certinfo (cert_lib.ps1) is mocked: its own tests are not written yet.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Get-RenewdFunctions 'windows.store.list')
  $a = New-RenewdCert 'CN=a'
  $b = New-RenewdCert 'CN=b'
  Mock Get-ChildItem { @($a, $b, [pscustomobject]@{ Name = 'not a certificate' }) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
  Mock rdw_certinfo { [ordered]@{ thumbprint = $Cert.Thumbprint } }
}

Describe 'windows.store.list' {
  It 'lists every certificate of the store when no thumbprint is asked for (no "thumbprints" key)' {
    $r = Invoke-RenewdScript 'windows.store.list' @{ store = 'LocalMachine\My' }
    $r.store | Should -BeExactly 'LocalMachine\My'
    @($r.certs | ForEach-Object { $_.thumbprint }) | Should -Be @($a.Thumbprint, $b.Thumbprint)
  }
  It 'lists only the thumbprints asked for, whatever their case' {
    $r = Invoke-RenewdScript 'windows.store.list' @{ store = 'LocalMachine\My'; thumbprints = @($b.Thumbprint.ToLower()) }
    @($r.certs).Count | Should -Be 1
    $r.certs[0].thumbprint | Should -BeExactly $b.Thumbprint
  }
  It 'returns an empty list, not null, for an empty store' {
    Mock Get-ChildItem { } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\Root' }
    $r = Invoke-RenewdScript 'windows.store.list' @{ store = 'LocalMachine\Root' }
    ConvertTo-Json -InputObject $r.certs -Compress | Should -BeExactly '[]'
  }
}
