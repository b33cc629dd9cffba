# prune_restore.ps1 and install_remove.ps1 (the rollbacks of
# windows.prune_duplicates and windows.install), as renewd builds
# windows.prune.restore / windows.install.remove. Mocked: the store
# (Get-ChildItem / Remove-Item on Cert:\, about_Certificate_Provider; -DeleteKey
# removes the private key too), the X509Store it adds to (New-Object
# X509Store: https://learn.microsoft.com/dotnet/api/system.security.cryptography.x509certificates.x509store)
# and `certutil -repairstore` (rdw_native).
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Get-RenewdFunctions 'windows.prune.restore')
  $script:RealNewObject = Get-Command -Name New-Object -CommandType Cmdlet
  $newc = New-RenewdCert 'CN=ra' 365
  $oldc = New-RenewdCert 'CN=ra' 10
  function Use-Store([object[]]$Certs) {
    $script:StoreCerts = [System.Collections.Generic.List[object]]::new()
    foreach ($c in $Certs) { $script:StoreCerts.Add($c) }
    Mock Get-ChildItem { $script:StoreCerts.ToArray() } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
    Mock Remove-Item { } -ParameterFilter { $LiteralPath -like 'Cert:\LocalMachine\My\*' }
    $script:Added = [System.Collections.Generic.List[string]]::new()
    Mock New-Object {
      $s = [pscustomobject]@{ Name = $ArgumentList[0]; Location = $ArgumentList[1]; Mode = $null }
      $s | Add-Member ScriptMethod Open { param($flags) $this.Mode = [string]$flags }
      $s | Add-Member ScriptMethod Add { param($c) $script:Added.Add("$($this.Location)\$($this.Name) $($c.Thumbprint) $($this.Mode)"); $script:StoreCerts.Add($c) }
      $s | Add-Member ScriptMethod Close { }
      $s
    } -ParameterFilter { $TypeName -eq 'System.Security.Cryptography.X509Certificates.X509Store' }
    # any other New-Object is the real cmdlet
    Mock New-Object { & $script:RealNewObject -TypeName $TypeName -ArgumentList $ArgumentList }
    Mock rdw_native { [ordered]@{ exit = 0; text = 'CertUtil: -repairstore command completed successfully.' } } -ParameterFilter {
      $Exe -eq 'certutil.exe' -and $ArgList[0] -eq '-repairstore' -and $ArgList[1] -eq 'My'
    }
  }
}

Describe 'windows.prune.restore' {
  It 'adds each missing certificate back from its backup, then repairs its key link' {
    $b = Join-Path $TestDrive 'old.cer'
    [System.IO.File]::WriteAllBytes($b, $oldc.RawData)
    Use-Store @($newc)
    $r = Invoke-RenewdScript 'windows.prune.restore' @{ store = 'LocalMachine\My'; items = @(@{ thumbprint = $oldc.Thumbprint; backup = $b }) }
    $r.results[0].state | Should -BeExactly 'restored'
    $r.results[0].repair_exit | Should -Be 0
    ($script:Added -join ';') | Should -BeExactly "LocalMachine\My $($oldc.Thumbprint) ReadWrite"
    Should -Invoke rdw_native -Times 1 -Exactly -ParameterFilter { $ArgList[2] -eq $oldc.Thumbprint }
  }
  It 'leaves a certificate that is still there, and reports a missing backup' {
    Use-Store @($newc, $oldc)
    $r = Invoke-RenewdScript 'windows.prune.restore' @{ store = 'LocalMachine\My'; items = @(
        @{ thumbprint = $oldc.Thumbprint; backup = 'x' }, @{ thumbprint = 'EE' * 20; backup = (Join-Path $TestDrive 'none.cer') }) }
    $r.results[0].state | Should -BeExactly 'present'
    $r.results[0].has_key | Should -BeTrue
    $r.results[1].state | Should -BeExactly 'no_backup'
    $script:Added.Count | Should -Be 0
  }
  It 'refuses a backup that holds another certificate' {
    $b = Join-Path $TestDrive 'other.cer'
    [System.IO.File]::WriteAllBytes($b, $newc.RawData)
    Use-Store @()
    { Invoke-RenewdScript 'windows.prune.restore' @{ store = 'LocalMachine\My'; items = @(@{ thumbprint = $oldc.Thumbprint; backup = $b }) } } |
      Should -Throw "rd_fail: backup $b holds $($newc.Thumbprint), not $($oldc.Thumbprint)"
    $script:Added.Count | Should -Be 0
  }
}

Describe 'windows.install.remove' {
  It 'removes the new certificate with -DeleteKey while the old one is there' {
    Use-Store @($newc, $oldc)
    (Invoke-RenewdScript 'windows.install.remove' @{ store = 'LocalMachine\My'; new = $newc.Thumbprint; old = $oldc.Thumbprint }).state |
      Should -BeExactly 'removed'
    Should -Invoke Remove-Item -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq "Cert:\LocalMachine\My\$($newc.Thumbprint)" -and $DeleteKey }
  }
  It 'removes nothing when the new one is gone (<s1>) or the old one is (<s2>)' -TestCases @(@{ s1 = 'absent'; s2 = 'old_missing' }) {
    Use-Store @($oldc)
    (Invoke-RenewdScript 'windows.install.remove' @{ store = 'LocalMachine\My'; new = $newc.Thumbprint; old = $oldc.Thumbprint }).state | Should -BeExactly $s1
    Use-Store @($newc)
    (Invoke-RenewdScript 'windows.install.remove' @{ store = 'LocalMachine\My'; new = $newc.Thumbprint; old = $oldc.Thumbprint }).state | Should -BeExactly $s2
    Should -Invoke Remove-Item -Times 0 -Exactly
  }
  It 'refuses the same certificate as new and old' {
    { Invoke-RenewdScript 'windows.install.remove' @{ store = 'LocalMachine\My'; new = $newc.Thumbprint; old = $newc.Thumbprint.ToLower() } } |
      Should -Throw 'rd_fail: the new and the old certificate are the same*'
  }
}
