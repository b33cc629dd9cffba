# The acme plugin's Windows scripts (plugins/acme/ps/*.ps1 behind the
# windows plugin's lib.ps1), as renewd builds them: acme.win.new,
# acme.win.http01, acme.win.dns01, acme.win.accept. The texts come from
# test_acme_windows (case ps_texts) in BUILD/ps-acme, next to BUILD/ps.
# The Windows boundary is mocked: certreq (rdw_native) as Microsoft
# documents it — `certreq -new policy.inf request.req` makes the key pair
# with a pending request in the machine's REQUEST store and writes the
# base64 request; `certreq -accept -machine file.cer` links the issued
# certificate to that key and installs it
# (https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1);
# the REQUEST store (Get-ChildItem / Test-Path Cert:\LocalMachine\REQUEST);
# Import-Certificate
# (https://learn.microsoft.com/powershell/module/pki/import-certificate);
# WebAdministration's Get-Website (Boundary.ps1). The files are real: the
# work directory in $TestDrive, and C: a drive on $TestDrive.
BeforeAll {
  . (Join-Path $PSScriptRoot 'Renewd.ps1')
  . (Join-Path $PSScriptRoot 'Boundary.ps1')
  . (Join-Path $PSScriptRoot 'Compat51.ps1')
  # the files here are real (Boundary.ps1's Remove-Item guards the tests whose are not)
  Microsoft.PowerShell.Management\Remove-Item -LiteralPath 'function:\Remove-Item'
  $script:SavedBuilt = $env:RENEWD_PS_BUILT
  $env:RENEWD_PS_BUILT = Join-Path (Split-Path -Parent $env:RENEWD_PS_BUILT) 'ps-acme'
  . (Get-RenewdFunctions 'acme.win.accept')
  # https://learn.microsoft.com/powershell/module/pki/import-certificate
  function Import-Certificate {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string]$FilePath, [string]$CertStoreLocation, [switch]$Exportable)
    throw 'Import-Certificate: not mocked in this test'
  }
  $null = New-PSDrive -Name C -PSProvider FileSystem -Root $TestDrive -Scope Global
  $script:Work = Join-Path $TestDrive 'adcs-0123456789abcdef'
  $null = New-Item -ItemType Directory -Path $script:Work
  Mock rdw_workdir { $script:Work }
  # a PKCS#10 request as certreq writes it (base64 between the markers)
  $rsa = [System.Security.Cryptography.RSA]::Create(2048)
  $cr = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=web1.test', $rsa,
    [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
  $script:Csr = [System.Convert]::ToBase64String($cr.CreateSigningRequest())
  function Use-RequestStore([string[]]$Thumbs) {
    $script:Requests = [System.Collections.Generic.List[string]]::new()
    foreach ($t in $Thumbs) { $script:Requests.Add($t) }
    Mock Get-ChildItem { @($script:Requests | ForEach-Object { [pscustomobject]@{ Thumbprint = $_ } }) } -ParameterFilter { $Path -eq 'Cert:\LocalMachine\REQUEST' }
  }
  # certreq -new: writes the request, adds one REQUEST entry
  function Use-Certreq([int]$Exit = 0, [int]$Entries = 1) {
    $script:CertreqExit = $Exit
    $script:CertreqEntries = $Entries
    Mock rdw_native {
      $script:Inf = [System.IO.File]::ReadAllLines($ArgList[3])
      if ($script:CertreqExit -eq 0) {
        [System.IO.File]::WriteAllLines($ArgList[4], [string[]]@('-----BEGIN NEW CERTIFICATE REQUEST-----',
          $script:Csr.Substring(0, 64), $script:Csr.Substring(64), '-----END NEW CERTIFICATE REQUEST-----'))
        for ($i = 0; $i -lt $script:CertreqEntries; $i++) { $script:Requests.Add(('{0:X40}' -f ($script:Requests.Count + 1))) }
        return [ordered]@{ exit = 0; text = 'CertReq: Request Created' }
      }
      return [ordered]@{ exit = $script:CertreqExit; text = 'Template not found. 0x80094800 (-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)' }
    } -ParameterFilter { $Exe -eq 'certreq.exe' -and $ArgList[0] -eq '-new' }
  }
  $script:Ec = @{ nonce = '0123456789abcdef'; names = @('web1.test', 'www.web1.test'); key_type = 'ec'; bits = '2048'; curve = 'P-256'; request = '' }
}
AfterAll {
  $env:RENEWD_PS_BUILT = $script:SavedBuilt
  Remove-PSDrive -Name C -ErrorAction SilentlyContinue
}

Describe 'acme.win.new (certreq -new with a machine-key INF)' {
  BeforeEach {
    Remove-Item -LiteralPath (Join-Path $script:Work 'acme.req') -ErrorAction SilentlyContinue
    Use-RequestStore @()
    Use-Certreq
  }
  It 'writes the INF: machine key, not exportable, PKCS#10, ECDSA P-256, the names as DNS SANs' {
    $r = Invoke-RenewdScript 'acme.win.new' $script:Ec
    Should -Invoke rdw_native -Times 1 -Exactly -ParameterFilter {
      ($ArgList -join '|') -eq ('-new|-q|-f|' + (Join-Path $script:Work 'acme.inf') + '|' + (Join-Path $script:Work 'acme.req'))
    }
    foreach ($l in 'MachineKeySet=TRUE', 'Exportable=FALSE', 'RequestType=PKCS10', 'KeyAlgorithm=ECDSA_P256', 'KeyLength=256',
      'Subject="CN=web1.test"', 'Signature="$Windows NT$"', '2.5.29.17="{text}"', '_continue_="dns=web1.test&"', '_continue_="dns=www.web1.test&"',
      'ProviderName="Microsoft Software Key Storage Provider"') {
      $script:Inf | Should -Contain $l
    }
    $r.csr | Should -BeExactly $script:Csr
    $r.request | Should -BeExactly $script:Requests[0]
    $r.reused | Should -BeFalse
  }
  It 'makes an RSA key of the bits asked for' {
    $p = $script:Ec.Clone(); $p.key_type = 'rsa'; $p.bits = '3072'
    $null = Invoke-RenewdScript 'acme.win.new' $p
    $script:Inf | Should -Contain 'KeyAlgorithm=RSA'
    $script:Inf | Should -Contain 'KeyLength=3072'
    $script:Inf | Should -Contain 'KeyUsage=0xa0'
  }
  It 'gives the pending request back on a resumed order, without certreq' {
    $first = Invoke-RenewdScript 'acme.win.new' $script:Ec
    $p = $script:Ec.Clone(); $p.request = $first.request.ToLower()
    $r = Invoke-RenewdScript 'acme.win.new' $p
    Should -Invoke rdw_native -Times 1 -Exactly
    $r.reused | Should -BeTrue
    $r.request | Should -BeExactly $first.request
    $r.csr | Should -BeExactly $first.csr
  }
  It 'makes a new request when the pending one left the REQUEST store' {
    $first = Invoke-RenewdScript 'acme.win.new' $script:Ec
    $script:Requests.Clear()
    $p = $script:Ec.Clone(); $p.request = $first.request
    $r = Invoke-RenewdScript 'acme.win.new' $p
    Should -Invoke rdw_native -Times 2 -Exactly
    $r.reused | Should -BeFalse
  }
  It 'refuses <what> before certreq runs' -ForEach @(
    @{ what = 'a name with a command'; key = 'names'; value = @('web1.test;calc'); want = "*name 'web1.test;calc' is not a DNS name*" }
    @{ what = 'a name with an INF quote'; key = 'names'; value = @('a"b.test'); want = '*is not a DNS name*' }
    @{ what = 'a name with a newline'; key = 'names'; value = @("web1.test`n[NewRequest]"); want = '*is not a DNS name*' }
    @{ what = 'no names'; key = 'names'; value = @(); want = '*1 to 100 DNS names*' }
    @{ what = 'a key type'; key = 'key_type'; value = 'dsa'; want = "*type 'dsa' is not rsa or ec*" }
    @{ what = 'a curve'; key = 'curve'; value = 'P-521'; want = "*curve 'P-521'*" }
    @{ what = 'a request thumbprint'; key = 'request'; value = "AB'; calc; '"; want = '*is not a 40-digit hex thumbprint*' }
  ) {
    $p = $script:Ec.Clone(); $p[$key] = $value
    { Invoke-RenewdScript 'acme.win.new' $p } | Should -Throw $want
    Should -Invoke rdw_native -Times 0 -Exactly
  }
  It 'refuses RSA bits <bits>' -ForEach @(@{ bits = '1024' }, @{ bits = '2048 ' }, @{ bits = '' }) {
    $p = $script:Ec.Clone(); $p.key_type = 'rsa'; $p.bits = $bits
    { Invoke-RenewdScript 'acme.win.new' $p } | Should -Throw '*RSA bits*'
  }
  It 'fails with certreq''s own text when it fails' {
    Use-Certreq -Exit 1
    { Invoke-RenewdScript 'acme.win.new' $script:Ec } | Should -Throw '*certreq -new: exit 1: Template not found. 0x80094800*'
  }
  It 'fails when certreq left no single new REQUEST entry' {
    Use-Certreq -Entries 0
    { Invoke-RenewdScript 'acme.win.new' $script:Ec } | Should -Throw '*0 new entries in the REQUEST store, expected 1*'
  }
}

Describe 'acme.win.http01 (the key authorization under the IIS site)' {
  BeforeEach {
    $d = [System.IO.Path]::Combine($TestDrive, 'inetpub')
    if ([System.IO.Directory]::Exists($d)) { [System.IO.Directory]::Delete($d, $true) }
    $null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::Combine($d, 'wwwroot'))
    $script:File = Join-Path $TestDrive 'inetpub/wwwroot/.well-known/acme-challenge/tok_A-1'
  }
  It 'writes the key authorization, ASCII without a newline, and a web.config serving it as text/plain' {
    $r = Invoke-RenewdScript 'acme.win.http01' @{ action = 'put'; site = ''; webroot = 'C:\inetpub\wwwroot'; token = 'tok_A-1'; keyauth = 'tok_A-1.thumb' }
    [System.IO.File]::ReadAllText($script:File) | Should -BeExactly 'tok_A-1.thumb'
    $cfg = [System.IO.File]::ReadAllText((Join-Path $TestDrive 'inetpub/wwwroot/.well-known/acme-challenge/web.config'))
    ([xml]$cfg).configuration.'system.webServer'.staticContent.mimeMap.fileExtension | Should -BeExactly '.'
    ([xml]$cfg).configuration.'system.webServer'.staticContent.mimeMap.mimeType | Should -BeExactly 'text/plain'
    $r.path | Should -Not -BeNullOrEmpty
    $null = Invoke-RenewdScript 'acme.win.http01' @{ action = 'remove'; site = ''; webroot = 'C:\inetpub\wwwroot'; token = 'tok_A-1'; keyauth = '' }
    Test-Path -LiteralPath $script:File | Should -BeFalse
  }
  It 'finds the physical path of the IIS site named' {
    Mock Import-Module { } -ParameterFilter { $Name -eq 'WebAdministration' }
    Mock Get-Website { [pscustomobject]@{ name = 'Default Web Site'; physicalPath = 'C:\inetpub\wwwroot' } } -ParameterFilter { $Name -eq 'Default Web Site' }
    $null = Invoke-RenewdScript 'acme.win.http01' @{ action = 'put'; site = 'Default Web Site'; webroot = ''; token = 'tok_A-1'; keyauth = 'k' }
    [System.IO.File]::ReadAllText($script:File) | Should -BeExactly 'k'
  }
  It 'refuses a site that does not exist' {
    Mock Import-Module { } -ParameterFilter { $Name -eq 'WebAdministration' }
    Mock Get-Website { } -ParameterFilter { $Name -eq 'Nope' }
    { Invoke-RenewdScript 'acme.win.http01' @{ action = 'put'; site = 'Nope'; webroot = ''; token = 't'; keyauth = 'k' } } | Should -Throw "*IIS site 'Nope' does not exist*"
  }
  It 'refuses the token <token>' -ForEach @(@{ token = '..\..\web.config' }, @{ token = 'a/b' }, @{ token = '' }, @{ token = "a`n" }) {
    { Invoke-RenewdScript 'acme.win.http01' @{ action = 'put'; site = ''; webroot = 'C:\inetpub\wwwroot'; token = $token; keyauth = 'k' } } | Should -Throw '*not base64url*'
  }
  It 'refuses the web root <root>' -ForEach @(@{ root = '\\server\share' }, @{ root = 'C:\inetpub\..\Windows' }, @{ root = 'inetpub' }) {
    { Invoke-RenewdScript 'acme.win.http01' @{ action = 'put'; site = ''; webroot = $root; token = 't'; keyauth = 'k' } } | Should -Throw '*is not an absolute path*'
  }
}

Describe 'acme.win.dns01 (the operator''s hook)' {
  BeforeAll {
    $null = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'renewd') -Force
    Set-Content -LiteralPath (Join-Path $TestDrive 'renewd/hook.ps1') -Value '# hook'
    Set-Content -LiteralPath (Join-Path $TestDrive 'renewd/hook.exe') -Value 'MZ'
    $script:Value = 'A' * 43
  }
  BeforeEach { Mock rdw_native { [ordered]@{ exit = 0; text = '' } } }
  It 'runs a .ps1 hook with -File and the three arguments as an array' {
    $null = Invoke-RenewdScript 'acme.win.dns01' @{ hook = 'C:\renewd\hook.ps1'; action = 'add'; name = '_acme-challenge.web1.test'; value = $script:Value }
    Should -Invoke rdw_native -Times 1 -Exactly -ParameterFilter {
      $Exe -eq 'powershell.exe' -and ($ArgList -join '|') -eq ('-NoProfile|-NonInteractive|-ExecutionPolicy|Bypass|-File|C:\renewd\hook.ps1|add|_acme-challenge.web1.test|' + $script:Value)
    }
  }
  It 'runs another hook itself; remove has no third argument' {
    $null = Invoke-RenewdScript 'acme.win.dns01' @{ hook = 'C:\renewd\hook.exe'; action = 'remove'; name = '_acme-challenge.web1.test'; value = '' }
    Should -Invoke rdw_native -Times 1 -Exactly -ParameterFilter { $Exe -eq 'C:\renewd\hook.exe' -and ($ArgList -join '|') -eq 'remove|_acme-challenge.web1.test' }
  }
  It 'reports a failing hook with the end of its output' {
    Mock rdw_native { [ordered]@{ exit = 2; text = ('x' * 400) + 'zone refused' } }
    { Invoke-RenewdScript 'acme.win.dns01' @{ hook = 'C:\renewd\hook.ps1'; action = 'add'; name = '_acme-challenge.web1.test'; value = $script:Value } } |
      Should -Throw '*dns hook C:\renewd\hook.ps1 add _acme-challenge.web1.test: exit 2: *zone refused'
  }
  It 'refuses <what> before the hook runs' -ForEach @(
    @{ what = 'a relative hook'; p = @{ hook = 'hook.ps1'; action = 'add'; name = '_acme-challenge.a.test'; value = ('A' * 43) }; want = '*not an absolute path*' }
    @{ what = 'a missing hook'; p = @{ hook = 'C:\renewd\none.ps1'; action = 'add'; name = '_acme-challenge.a.test'; value = ('A' * 43) }; want = '*not a file*' }
    @{ what = 'an action'; p = @{ hook = 'C:\renewd\hook.ps1'; action = 'list'; name = '_acme-challenge.a.test'; value = '' }; want = "*action 'list'*" }
    @{ what = 'a name with a command'; p = @{ hook = 'C:\renewd\hook.ps1'; action = 'add'; name = '_acme-challenge.a.test;calc'; value = ('A' * 43) }; want = '*not an _acme-challenge name*' }
    @{ what = 'a value with a quote'; p = @{ hook = 'C:\renewd\hook.ps1'; action = 'add'; name = '_acme-challenge.a.test'; value = ('A' * 42) + '"' }; want = '*not a dns-01 digest*' }
  ) {
    { Invoke-RenewdScript 'acme.win.dns01' $p } | Should -Throw $want
    Should -Invoke rdw_native -Times 0 -Exactly
  }
}

Describe 'acme.win.accept (the chain into the machine store)' {
  BeforeAll {
    $caKey = [System.Security.Cryptography.RSA]::Create(2048)
    $caReq = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=fake ACME root', $caKey,
      [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $caReq.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
    $now = [DateTimeOffset]::UtcNow
    $root = $caReq.CreateSelfSigned($now.AddDays(-1), $now.AddDays(30))
    $intKey = [System.Security.Cryptography.RSA]::Create(2048)
    $intReq = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=fake ACME intermediate', $intKey,
      [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $intReq.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
    $script:Int = $intReq.Create($root, $now.AddDays(-1), $now.AddDays(20), [byte[]](1, 2, 3))
    $script:Root = $root
    $script:Leaf = New-RenewdCert 'CN=web1.test'
    $script:Params = @{ nonce = '0123456789abcdef'; store = 'LocalMachine\My'; leaf = [System.Convert]::ToBase64String($script:Leaf.RawData)
      chain = @([System.Convert]::ToBase64String($script:Int.RawData), [System.Convert]::ToBase64String($root.RawData)) }
  }
  BeforeEach {
    $null = [System.IO.Directory]::CreateDirectory($script:Work)
    Mock Import-Certificate { }
    Mock rdw_native { [ordered]@{ exit = 0; text = 'Installed Certificate' } } -ParameterFilter { $Exe -eq 'certreq.exe' -and $ArgList[0] -eq '-accept' }
    Mock rdw_certinfo { [ordered]@{ thumbprint = $Cert.Thumbprint; has_key = $true } }
    $script:Linked = $false
    Mock rdw_find { if ($script:Linked) { $script:Leaf } } -ParameterFilter { $StorePath -eq 'Cert:\LocalMachine\My' }
  }
  It 'writes the leaf for certreq -accept -machine, imports the intermediate into LocalMachine\CA (not the root)' {
    Mock rdw_native { $script:Linked = $true; [ordered]@{ exit = 0; text = 'Installed Certificate' } } -ParameterFilter { $Exe -eq 'certreq.exe' -and $ArgList[0] -eq '-accept' }
    $r = Invoke-RenewdScript 'acme.win.accept' $script:Params
    $cer = Join-Path $script:Work 'renewal.cer'
    Should -Invoke rdw_native -Times 1 -Exactly -ParameterFilter { ($ArgList -join '|') -eq "-accept|-machine|-q|$cer" }
    Should -Invoke Import-Certificate -Times 1 -Exactly -ParameterFilter { $CertStoreLocation -eq 'Cert:\LocalMachine\CA' }
    $r.found | Should -BeTrue
    $r.thumbprint | Should -BeExactly $script:Leaf.Thumbprint
    $r.cert.has_key | Should -BeTrue
    [System.IO.Directory]::Exists($script:Work) | Should -BeFalse -Because 'the work directory goes once the certificate has its key'
  }
  It 'does not run certreq again when the certificate is in the store with its key (a re-run)' {
    $script:Linked = $true
    $r = Invoke-RenewdScript 'acme.win.accept' $script:Params
    Should -Invoke rdw_native -Times 0 -Exactly
    $r.found | Should -BeTrue
  }
  It 'reports certreq''s text when the certificate did not arrive' {
    Mock rdw_native { [ordered]@{ exit = -2146885628; text = 'Cannot find object or property. 0x80092004' } } -ParameterFilter { $Exe -eq 'certreq.exe' }
    $r = Invoke-RenewdScript 'acme.win.accept' $script:Params
    $r.found | Should -BeFalse
    $r.text | Should -BeLike '*0x80092004*'
    [System.IO.File]::ReadAllBytes((Join-Path $script:Work 'renewal.cer')) | Should -Be $script:Leaf.RawData
  }
}

Describe 'the acme scripts and Windows PowerShell 5.1' {
  It '<name> has nothing Windows PowerShell 5.1 lacks' -ForEach @(
    @{ name = 'acme.win.new' }, @{ name = 'acme.win.http01' }, @{ name = 'acme.win.dns01' }, @{ name = 'acme.win.accept' }, @{ name = 'acme.win.cleanup' }
  ) {
    $p = Get-Ps51Problem (Get-RenewdBuilt $name)
    $p -join "`n" | Should -BeNullOrEmpty -Because "$name.ps1 must run on Windows PowerShell 5.1"
  }
}
