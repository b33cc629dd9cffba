# iis_lib.ps1, iis_read.ps1, iis_set.ps1 (windows.iis_binding), as renewd
# builds windows.iis.read / windows.iis.set. WebAdministration is mocked:
# Get-Website, Get-WebBinding, and the binding objects' documented methods
# AddSslCertificate(thumbprint, storeName) / RemoveSslCertificate():
# https://learn.microsoft.com/iis/configuration/system.applicationhost/sites/site/bindings/binding
# https://learn.microsoft.com/powershell/module/webadministration/get-webbinding
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Get-RenewdFunctions 'windows.iis.set')
  $old = 'AB' * 20
  $new = 'CD' * 20
  $inStore = New-RenewdCert 'CN=web'
  function New-Binding([string]$Hash, [string]$FailAdd = '') {
    $b = [pscustomobject]@{ bindingInformation = '*:443:'; certificateHash = $Hash; certificateStoreName = 'My'; sslFlags = 0
                            Calls = [System.Collections.Generic.List[string]]::new(); FailAdd = $FailAdd }
    $b | Add-Member ScriptMethod RemoveSslCertificate { $this.Calls.Add('remove'); $this.certificateHash = '' }
    $b | Add-Member ScriptMethod AddSslCertificate {
      param($thumb, $store)
      $this.Calls.Add("add $thumb $store")
      if ($this.FailAdd -and $thumb -eq $this.FailAdd) { throw 'A specified logon session does not exist.' }
      $this.certificateHash = $thumb
    }
    return $b
  }
  # the site exists with these bindings
  function Use-Site([object[]]$Bindings) {
    $script:Bindings = $Bindings
    Mock Import-Module { } -ParameterFilter { $Name -eq 'WebAdministration' }
    Mock Get-Website { [pscustomobject]@{ name = 'Default Web Site' } } -ParameterFilter { $Name -eq 'Default Web Site' }
    Mock Get-Website { } -ParameterFilter { $Name -ne 'Default Web Site' }
    Mock Get-WebBinding { $script:Bindings } -ParameterFilter { $Name -eq 'Default Web Site' -and $Protocol -eq 'https' -and $Port -eq 443 }
  }
  $p = @{ site = 'Default Web Site'; protocol = 'https'; port = '443'; host = '' }
}

Describe 'windows.iis.read' {
  It 'reads the one binding (a single binding stays an array)' {
    Use-Site @(New-Binding $old.ToLower())
    $r = Invoke-RenewdScript 'windows.iis.read' $p
    $r.count | Should -Be 1
    $r.binding | Should -BeExactly '*:443:'
    $r.hash | Should -BeExactly $old
    $r.store | Should -BeExactly 'My'
  }
  It 'reports <n> bindings without choosing one' -ForEach @(@{ n = 0 }, @{ n = 2 }) {
    Use-Site @(for ($i = 0; $i -lt $n; $i++) { New-Binding $old })
    $r = Invoke-RenewdScript 'windows.iis.read' $p
    $r.count | Should -Be $n
    $r.binding | Should -BeNullOrEmpty
  }
  It 'passes the host header only when there is one' {
    Use-Site @(New-Binding $old)
    Mock Get-WebBinding { $script:Bindings } -ParameterFilter { $HostHeader -eq "a'b`u{2019}.example" }
    $q = $p.Clone(); $q.host = "a'b`u{2019}.example"
    (Invoke-RenewdScript 'windows.iis.read' $q).count | Should -Be 1
  }
  It 'fails when the site does not exist' {
    Use-Site @()
    { $q = $p.Clone(); $q.site = 'Nope'; Invoke-RenewdScript 'windows.iis.read' $q } |
      Should -Throw "rd_fail: IIS site 'Nope' does not exist"
  }
}

Describe 'windows.iis.set' {
  BeforeEach {
    Mock Get-ChildItem { @($inStore) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My' }
  }
  It 'rebinds: RemoveSslCertificate, then AddSslCertificate(new, My)' {
    $b = New-Binding $old
    Use-Site @($b)
    $r = Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $inStore.Thumbprint })
    $r.state | Should -BeExactly 'set'
    $r.found | Should -BeExactly $old
    $r.hash | Should -BeExactly $inStore.Thumbprint
    ($b.Calls -join ';') | Should -BeExactly "remove;add $($inStore.Thumbprint) My"
  }
  It 'does nothing when it is already bound, or on a mismatch' {
    $b = New-Binding $inStore.Thumbprint
    Use-Site @($b)
    (Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $inStore.Thumbprint })).state | Should -BeExactly 'already'
    $b = New-Binding ('EE' * 20)
    Use-Site @($b)
    $r = Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $inStore.Thumbprint })
    $r.state | Should -BeExactly 'mismatch'
    $b.Calls.Count | Should -Be 0
  }
  It 'refuses a certificate that is not in LocalMachine\My, and leaves the binding' {
    $b = New-Binding $old
    Use-Site @($b)
    { Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $new }) } | Should -Throw "rd_fail: certificate $new is not in LocalMachine\My"
    $b.Calls.Count | Should -Be 0
  }
  It 'puts the old certificate back when adding the new one fails' {
    $b = New-Binding $old $inStore.Thumbprint
    Use-Site @($b)
    { Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $inStore.Thumbprint }) } |
      Should -Throw "rd_fail: binding ?:443:: cannot bind $($inStore.Thumbprint): *A specified logon session does not exist.*"
    ($b.Calls -join ';') | Should -BeExactly "remove;add $($inStore.Thumbprint) My;add $old My"
    $b.certificateHash | Should -BeExactly $old
  }
  It 'unbinds when the new certificate is empty' {
    $b = New-Binding $old
    Use-Site @($b)
    $r = Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = '' })
    $r.state | Should -BeExactly 'set'
    ($b.Calls -join ';') | Should -BeExactly 'remove'
  }
  It 'needs exactly one binding' {
    Use-Site @((New-Binding $old), (New-Binding $old))
    { Invoke-RenewdScript 'windows.iis.set' ($p + @{ expect = $old; new = $inStore.Thumbprint }) } |
      Should -Throw 'rd_fail: expected one https binding on port 443 of *, found 2'
  }
}
