using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

public sealed class RunCodeTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private async Task<RunCodeData> RunCodeAsync(string code, string? language)
    {
        var response = await Agent.Client.PostAsync("/run/code", new RunCodeRequest(code, language), AgentClient.Wire.RunCodeRequest, TestContext.Current.CancellationToken);
        response.ShouldHaveStatus(200);
        response.Json.GetProperty("data").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Object);
        return response.Envelope(AgentClient.Wire.EnvelopeRunCodeData);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("python", "print('hi from python')", "hi from python\n", "python")]
    [InlineData("python3", "print(6 * 7)", "42\n", "python")]
    [InlineData("node", "console.log('hi from node')", "hi from node\n", "node")]
    [InlineData("javascript", "console.log(1 + 1)", "2\n", "node")]
    [InlineData("js", "process.stdout.write('js')", "js", "node")]
    [InlineData("bash", "echo \"${BASH_VERSION:+bash}\"", "bash\n", "bash")]
    [InlineData("sh", "echo from-sh", "from-sh\n", "sh")]
    [InlineData("PYTHON", "print('case')", "case\n", "python")]
    public async Task Each_language_runs_with_its_interpreter(string language, string code, string output, string canonical)
    {
        var result = await RunCodeAsync(code, language);

        result.Output.Should().Be(output);
        result.ExitCode.Should().Be(0);
        result.Language.Should().Be(canonical);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("console.log('detected')", "node", "detected\n")]
    [InlineData("const x = 3\nconsole.log(x)", "node", "3\n")]
    [InlineData("print('detected')", "python", "detected\n")]
    [InlineData("def f():\n    return 5\nprint(f())", "python", "5\n")]
    [InlineData("#!/bin/bash\necho \"${BASH_VERSION:+bash}\"", "bash", "bash\n")]
    [InlineData("#!/usr/bin/env python3\nprint('shebang')", "python", "shebang\n")]
    [InlineData("#!/bin/sh\necho plain", "sh", "plain\n")]
    [InlineData("x = 1", "python", "")]
    public async Task Without_a_language_it_is_detected_from_the_code(string code, string expectedLanguage, string output)
    {
        var result = await RunCodeAsync(code, null);

        result.Language.Should().Be(expectedLanguage);
        result.Output.Should().Be(output);
        result.ExitCode.Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unsupported_language_answers_400_naming_it()
    {
        var response = await Agent.Client.PostJsonAsync("/run/code", """{"code":"DISPLAY 'x'.","language":"cobol"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(400).Should().Contain("cobol").And.Contain("unsupported language");
    }

    [Fact(Timeout = 30_000)]
    public async Task Output_is_stdout_followed_by_stderr_regardless_of_timing()
    {
        var result = await RunCodeAsync("import sys\nsys.stderr.write('E1\\n'); sys.stderr.flush()\nprint('O1', flush=True)\nsys.stderr.write('E2\\n')", "python");

        result.Output.Should().Be("O1\nE1\nE2\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_non_zero_exit_is_reported_with_200()
    {
        var result = await RunCodeAsync("import sys\nprint('bye')\nsys.exit(3)", "python");

        result.ExitCode.Should().Be(3);
        result.Output.Should().Be("bye\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task An_exception_exits_non_zero_with_the_traceback_in_output()
    {
        var result = await RunCodeAsync("raise ValueError('boom')", "python");

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain("ValueError: boom");
    }

    [Fact(Timeout = 30_000)]
    public async Task Code_runs_in_the_sandbox_root_and_leaves_no_temp_file_there()
    {
        var result = await RunCodeAsync("import os\nprint(os.getcwd())", "python");

        result.Output.Should().Be(Agent.Root + "\n");
        Directory.EnumerateFileSystemEntries(Agent.Root, "*.py").Should().BeEmpty();
    }

    [Fact(Timeout = 30_000)]
    public async Task The_temp_file_holding_the_code_is_removed_after_the_run()
    {
        var result = await RunCodeAsync("echo \"$0\"", "sh");

        var path = result.Output.Trim();
        path.Should().NotBeEmpty();
        File.Exists(path).Should().BeFalse($"{path} should have been removed");
    }

    [Fact(Timeout = 30_000)]
    public async Task Unicode_code_and_output_round_trip()
    {
        var result = await RunCodeAsync("print('grüße €')", "python");

        result.Output.Should().Be("grüße €\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Ruby_runs_when_installed_and_is_reported_missing_otherwise()
    {
        var rubyInstalled = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, "ruby")));

        var response = await Agent.Client.PostJsonAsync("/run/code", """{"code":"puts 'hi from ruby'","language":"ruby"}""", TestContext.Current.CancellationToken);

        if (rubyInstalled)
        {
            response.ShouldHaveStatus(200);
            response.Data.GetProperty("output").GetString().Should().Be("hi from ruby\n");
            response.Data.GetProperty("language").GetString().Should().Be("ruby");
        }
        else
        {
            response.ShouldBeError(400).Should().Contain("interpreter not found").And.Contain("ruby");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_code_field_answers_400_json()
    {
        var response = await Agent.Client.PostJsonAsync("/run/code", """{"language":"python"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(400).Should().Contain("code");
    }
}
