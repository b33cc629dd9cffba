# WebAdministration.psm1 — the emulated machine's IIS module
# (https://learn.microsoft.com/powershell/module/webadministration/): on
# PSModulePath when RenewdWindows.psm1 has a machine, so that
# `Import-Module WebAdministration` succeeds. Its IIS: drive's items
# (IIS:\AppPools\<pool>) are RenewdWindows' Get-Item (Ndes.ps1).
