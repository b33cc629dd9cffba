// Runner.cs — one run of renewd-pshost: the runspace, the emulation module,
// strict mode, the script, and powershell.exe's exit code ([rule N]: see
// tests/windows/README.md).
using System;
using System.Collections.ObjectModel;
using System.IO;
using System.Reflection;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.RegularExpressions;

namespace Renewd.PsHost
{
    internal static class Runner
    {
        // The emulation module: $RENEWD_PS_EMU, else emu/RenewdWindows.psd1
        // next to the host.
        private static string EmulationModule()
        {
            string e = Environment.GetEnvironmentVariable("RENEWD_PS_EMU");
            if (!string.IsNullOrEmpty(e)) return e;
            return Path.Combine(AppContext.BaseDirectory, "emu", "RenewdWindows.psm1");
        }

        // "C:\x", "C:/x", "/C:/x" -> $RENEWD_WIN_ROOT/c/x when the emulated
        // machine has a root; other paths are left as they are.
        internal static string MapWindowsPath(string p)
        {
            string root = Environment.GetEnvironmentVariable("RENEWD_WIN_ROOT");
            Match m = Regex.Match(p, @"^/?([A-Za-z]):[\\/](.*)$", RegexOptions.Singleline);
            if (string.IsNullOrEmpty(root) || !m.Success) return p;
            string rest = m.Groups[2].Value.Replace('\\', '/');
            return Path.Combine(root, m.Groups[1].Value.ToLowerInvariant(), rest);
        }

        // The emulated crypt32.dll (crypt32_emu.c), loaded up front: .NET
        // probes DllImport("crypt32.dll") of an Add-Type assembly by bare
        // names (libcrypt32.dll.so among them), which dlopen finds by the
        // soname of a library already loaded. Only on an emulated machine.
        private static void LoadCrypt32()
        {
            string lib = Path.Combine(AppContext.BaseDirectory, "libcrypt32.dll.so");
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RENEWD_WIN_ROOT")) && File.Exists(lib))
                System.Runtime.InteropServices.NativeLibrary.Load(lib);
        }

        public static int Run(Options o, TextWriter stdout, TextWriter stderr)
        {
            LoadCrypt32();
            var host = new EmuHost(stdout, stderr);
            InitialSessionState iss = InitialSessionState.CreateDefault2();
            string emu = EmulationModule();
            if (!File.Exists(emu))
            {
                stderr.WriteLine($"renewd-pshost: emulation module {emu}: not found");
                return 1;
            }
            iss.ImportPSModule(new[] { emu });
            using Runspace rs = RunspaceFactory.CreateRunspace(host, iss);
            rs.Open();
            if (!Invoke(rs, host, "Set-StrictMode -Version Latest", null, false, out _))
            {
                stderr.WriteLine("renewd-pshost: Set-StrictMode failed");
                return 1;
            }
            bool ok;
            if (o.File != null)
            {
                // [rule 6] -File: the exit code is the script's `exit N`, 1 when
                // it ends with a terminating error, else 0 (errors written by
                // the script do not change it).
                string path = MapWindowsPath(o.File);
                if (!File.Exists(path))
                {
                    stderr.WriteLine($"The argument '{o.File}' to the -File parameter does not exist. Provide the path to an existing '.ps1' file as an argument to the -File parameter.");
                    return 64;
                }
                // `exit N` in the file ends the process, as ConsoleHost makes it
                // (ExecutionContext.ScriptCommandProcessorShouldRethrowExit,
                // internal: set by reflection)
                if (!RethrowExit(rs))
                {
                    stderr.WriteLine("renewd-pshost: this PowerShell SDK has no ScriptCommandProcessorShouldRethrowExit");
                    return 1;
                }
                Invoke(rs, host, Path.GetFullPath(path), o.FileArgs, true, out bool terminated);
                if (host.ExitCode.HasValue) return host.ExitCode.Value;
                return terminated ? 1 : 0;
            }
            // [rule 5] -Command / -EncodedCommand: `exit N` gives N; else 0
            // when the last command succeeded ($? is true), 1 when not
            // (a terminating error included).
            // $? is read by a statement appended on a line of its own: the
            // engine resets the global $? when the pipeline ends.
            ok = Invoke(rs, host, o.Command + "\n$global:RenewdPsHostStatus = $?", null, false, out bool term);
            if (host.ExitCode.HasValue) return host.ExitCode.Value;
            if (term || !ok) return 1;
            bool last = LastStatus(rs);
            return last ? 0 : 1;
        }

        private static bool RethrowExit(Runspace rs)
        {
            const BindingFlags f = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
            object ctx = rs.GetType().GetProperty("ExecutionContext", f)?.GetValue(rs);
            PropertyInfo p = ctx?.GetType().GetProperty("ScriptCommandProcessorShouldRethrowExit", f);
            if (p == null) return false;
            p.SetValue(ctx, true);
            return true;
        }

        // The status of the command's last statement, saved by the statement
        // appended to it.
        private static bool LastStatus(Runspace rs) =>
            rs.SessionStateProxy.GetVariable("global:RenewdPsHostStatus") is bool b && b;

        // Runs a script text (or a script file with arguments) in the global
        // scope with its output and errors formatted by Out-Default through
        // the host ([rule 8]), as ConsoleHost runs -Command: one pipeline of
        // the runspace, errors merged into the output.
        private static bool Invoke(Runspace rs, EmuHost host, string text, System.Collections.Generic.List<string> fileArgs,
                                   bool isFile, out bool terminated)
        {
            terminated = false;
            using Pipeline p = isFile ? rs.CreatePipeline() : rs.CreatePipeline(text, false);
            if (isFile)
            {
                var c = new Command(text, false, false);
                foreach (string a in fileArgs) c.Parameters.Add(null, a);
                p.Commands.Add(c);
            }
            p.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
            // Out-Default in a scope of its own, so that $global:? stays the
            // status of the command's last statement
            p.Commands.Add(new Command("Out-Default", false, true));
            try
            {
                p.Invoke();
            }
            catch (RuntimeException e)
            {
                // [rule 9] a terminating error ends the command: its message
                // goes to stderr, the exit code is 1
                terminated = true;
                host.ReportException(e);
            }
            return true;
        }
    }
}
