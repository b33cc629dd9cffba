# prune_apply.ps1 (windows.prune_duplicates), as renewd builds
# windows.prune.apply. The store is mocked (Get-ChildItem Cert:\... with
# real X509Certificate2s, Remove-Item of Cert:\LocalMachine\My\<thumbprint>:
# https://learn.microsoft.com/powershell/module/microsoft.powershell.security/about/about_certificate_provider);
# the backup folder is a test folder (Join-Path and Test-Path mocked for it).
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  $newc = New-RenewdCert 'CN=ra' 365
  $dup1 = New-RenewdCert 'CN=ra' 200
  $later = New-RenewdCert 'CN=ra' 400
  # the same certificate without its private key
  $nokey = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([byte[]]$newc.RawData)
  $bdir = 'C:\ProgramData\renewd\backup'
  function Use-Store([object[]]$Certs) {
    $script:StoreCerts = $Certs
    Mock Get-ChildItem { $script:StoreCerts } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    Mock Remove-Item { } -ParameterFilter { $LiteralPath -like 'Cert:\LocalMachine\My\*' }
    Mock Test-Path { $true } -ParameterFilter { $LiteralPath -eq $bdir }
    Mock Join-Path { [System.IO.Path]::Combine($TestDrive, $ChildPath) } -ParameterFilter { $Path -eq $bdir }
  }
  function Prune([string[]]$Remove, [string]$Dir = $bdir) {
    Invoke-RenewdScript 'windows.prune.apply' @{ store = 'LocalMachine\My'; new = $newc.Thumbprint; backup_dir = $Dir; remove = $Remove }
  }
}

Describe 'windows.prune.apply' {
  It 'backs up each duplicate (its DER) and removes it, without -DeleteKey' {
    Use-Store @($newc, $dup1)
    $r = Prune @($dup1.Thumbprint, ('EE' * 20))
    $r.results.Count | Should -Be 2
    $r.results[0].state | Should -BeExactly 'removed'
    $r.results[0].thumbprint | Should -BeExactly $dup1.Thumbprint
    $r.results[1].state | Should -BeExactly 'absent'
    [System.IO.File]::ReadAllBytes($r.results[0].backup) | Should -Be $dup1.RawData
    Should -Invoke Remove-Item -Times 1 -Exactly -ParameterFilter {
      $LiteralPath -eq "Cert:\LocalMachine\My\$($dup1.Thumbprint)" -and -not $PSBoundParameters.ContainsKey('DeleteKey')
    }
  }
  It 'removes nothing unless the new certificate is there with its key' {
    Use-Store @($dup1)
    { Prune @($dup1.Thumbprint) } | Should -Throw 'rd_fail: the new certificate * is not in LocalMachine\My with its private key: nothing was removed'
    Use-Store @($nokey, $dup1)
    { Prune @($dup1.Thumbprint) } | Should -Throw 'rd_fail: the new certificate *nothing was removed'
    Should -Invoke Remove-Item -Times 0 -Exactly
  }
  It 'refuses to remove the new certificate, or one that expires after it' {
    Use-Store @($newc, $later)
    { Prune @($newc.Thumbprint) } | Should -Throw 'rd_fail: refusing to remove the new certificate *'
    { Prune @($dup1.Thumbprint, $later.Thumbprint) } | Should -Throw "rd_fail: refusing to remove $($later.Thumbprint)*expires after*"
    Should -Invoke Remove-Item -Times 0 -Exactly
  }
  It 'refuses the backup folder <d>' -ForEach @(
    @{ d = 'backup' }, @{ d = '\\server\share' }, @{ d = 'C:\a\..\Windows' }, @{ d = "C:\a`n" }, @{ d = 'C:\a"b' }, @{ d = '' }
  ) {
    Use-Store @($newc, $dup1)
    { Prune @($dup1.Thumbprint) $d } | Should -Throw 'rd_fail: backup directory * is not an absolute local path'
    Should -Invoke Remove-Item -Times 0 -Exactly
  }
}
