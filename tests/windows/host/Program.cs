// renewd-pshost — the powershell.exe of renewd's emulated Windows host.
//
// Accepts the command lines renewd sends to powershell.exe
// (orchestrator/transport/remote.c) and runs the script in one runspace of
// the PowerShell engine (Microsoft.PowerShell.SDK), after importing the
// emulation module (emu/RenewdWindows.psm1, or $RENEWD_PS_EMU) and running
// `Set-StrictMode -Version Latest` in the global scope, so that every script
// and function it runs inherits strict mode.
//
// The rules followed, from Microsoft's documentation of powershell.exe
// (about_PowerShell.exe, Windows PowerShell 5.1:
// https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe?view=powershell-5.1)
// are listed in tests/windows/README.md; each is marked [rule N] below.
using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace Renewd.PsHost
{
    internal sealed class Options
    {
        public string Command;   // -Command / -EncodedCommand / stdin text
        public string File;      // -File path
        public List<string> FileArgs = new List<string>();
        public bool Encoded;
    }

    internal static class Program
    {
        // [rule 1] parameter names are case-insensitive and may be shortened
        // to any unambiguous prefix; -ec and -enc are documented aliases of
        // -EncodedCommand, -c of -Command, -f of -File, -ep of
        // -ExecutionPolicy.
        private static readonly string[] Known =
        {
            "command", "encodedcommand", "executionpolicy", "file", "inputformat",
            "noexit", "nologo", "noninteractive", "noprofile", "outputformat",
            "sta", "mta", "windowstyle", "version",
        };

        private static string Resolve(string arg)
        {
            string a = arg.TrimStart('-', '/').ToLowerInvariant();
            switch (a)
            {
                case "ec": case "enc": return "encodedcommand";
                case "c": return "command";
                case "f": return "file";
                case "ep": return "executionpolicy";
                case "nop": return "noprofile";
                case "noni": return "noninteractive";
            }
            string hit = null;
            foreach (string k in Known)
            {
                if (k == a) return k;
                if (a.Length > 0 && k.StartsWith(a, StringComparison.Ordinal))
                {
                    if (hit != null) return null;  // ambiguous
                    hit = k;
                }
            }
            return hit;
        }

        // Returns null and writes the error when the command line is wrong:
        // powershell.exe prints the problem and exits 64 (-1 on 5.1 is not
        // what OpenSSH reports; 64 is EX_USAGE, what pwsh returns).
        internal static Options Parse(string[] args, TextWriter err)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                if (a.Length == 0 || (a[0] != '-' && a[0] != '/'))
                {
                    // [rule 2] a bare first argument is a -Command (5.1's
                    // default parameter); the rest of the line joins it.
                    o.Command = string.Join(" ", args, i, args.Length - i);
                    return o;
                }
                if (a == "-")
                {
                    o.Command = "-";
                    return o;
                }
                string name = Resolve(a);
                if (name == null)
                {
                    err.WriteLine($"-{a.TrimStart('-', '/')} : the argument is not a known parameter of powershell.exe");
                    return null;
                }
                switch (name)
                {
                    case "noprofile": case "noninteractive": case "nologo": case "mta": case "sta":
                        break;  // always so here: no profile, no prompt, no banner
                    case "noexit":
                        err.WriteLine("-NoExit is not supported by the emulated host");
                        return null;
                    case "executionpolicy": case "inputformat": case "outputformat": case "windowstyle": case "version":
                        if (++i >= args.Length) { err.WriteLine($"Missing argument for parameter -{name}."); return null; }
                        if ((name == "inputformat" || name == "outputformat") &&
                            !"text".StartsWith(args[i].ToLowerInvariant(), StringComparison.Ordinal))
                        {
                            err.WriteLine($"-{name} {args[i]}: only Text is supported by the emulated host");
                            return null;
                        }
                        break;  // [rule 3] execution policy: not enforced off Windows
                    case "encodedcommand":
                        if (++i >= args.Length) { err.WriteLine("Missing argument for parameter -EncodedCommand."); return null; }
                        try
                        {
                            // [rule 4] base64 of the UTF-16LE text
                            o.Command = Encoding.Unicode.GetString(Convert.FromBase64String(args[i]));
                        }
                        catch (FormatException)
                        {
                            err.WriteLine("Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.");
                            return null;
                        }
                        o.Encoded = true;
                        if (i + 1 < args.Length) { err.WriteLine("-EncodedCommand must be the last parameter"); return null; }
                        return o;
                    case "command":
                        // [rule 5] the rest of the line is the command; "-" reads stdin
                        if (i + 1 >= args.Length) { err.WriteLine("Missing argument for parameter -Command."); return null; }
                        o.Command = string.Join(" ", args, i + 1, args.Length - i - 1);
                        return o;
                    case "file":
                        // [rule 6] -File takes the script path; every argument after
                        // it goes to the script
                        if (++i >= args.Length) { err.WriteLine("Missing argument for parameter -File."); return null; }
                        o.File = args[i];
                        for (i++; i < args.Length; i++) o.FileArgs.Add(args[i]);
                        return o;
                }
            }
            o.Command = "-";  // [rule 7] nothing to run: the commands come from stdin
            return o;
        }

        private static int Main(string[] args)
        {
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
            var stderr = new StreamWriter(Console.OpenStandardError(), new UTF8Encoding(false)) { AutoFlush = true };
            Console.SetOut(stdout);
            Console.SetError(stderr);
            // [rule 13] the SFTP subsystem of the emulated host
            if (args.Length == 1 && args[0] == "--sftp-server") return SftpServer.Serve(stderr);
            if (args.Length == 2 && args[0] == "--ssh-command")
            {
                // [rule 12] a command line as Windows OpenSSH runs it
                args = WinCmdLine.PowerShellArgs(args[1], stderr, out int code);
                if (args == null) return code;
            }
            Options o = Parse(args, stderr);
            if (o == null) return 64;
            if (o.Command == "-") o.Command = Console.In.ReadToEnd();
            return Runner.Run(o, stdout, stderr);
        }
    }
}
