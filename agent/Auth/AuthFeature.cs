using Sandboxd.Core;
using Sandboxd.State;

namespace Sandboxd.Auth;

internal static class AuthFeature
{
    public const string TokenFileName = "access-token";

    public static IServiceCollection AddAuth(this IServiceCollection services, AgentOptions options, StateStore state, StartupLog startupLog)
    {
        var tokens = ResolveAccessTokens(options, state, startupLog, out var secrets);
        // Read, then gone: neither the command line nor the environment of the agent shows a secret from now on.
        Environment.SetEnvironmentVariable("COMPUTESDK_ACCESS_TOKEN", null);
        Environment.SetEnvironmentVariable("COMPUTESDK_API_KEY", null);
        if (Native.ArgvScrubber.Scrub(secrets) < 0 && secrets.Length > 0)
        {
            startupLog.Add(l => l.SecretsNotErased());
        }
        services.AddSingleton(tokens);
        services.AddSingleton(startupLog); // written to the host's log once it runs
        services.AddSingleton(new Processes.AgentSecrets(secrets));
        services.AddSingleton(state);
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<SessionTokens>();
        services.AddSingleton<MagicLinks>();
        return services;
    }

    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/auth");
        group.MapGet("/status", AuthEndpoints.Status).AllowAnonymousAgent();
        group.MapGet("/info", AuthEndpoints.GetInfo).AllowAnonymousAgent();
        group.MapPost("/session_tokens", SessionTokenEndpoints.CreateAsync).RequireAccessToken();
        group.MapGet("/session_tokens", SessionTokenEndpoints.List).RequireAccessToken();
        group.MapGet("/session_tokens/{id}", SessionTokenEndpoints.Get).RequireAccessToken();
        group.MapDelete("/session_tokens/{id}", SessionTokenEndpoints.Revoke).RequireAccessToken();
        group.MapPost("/magic-links", MagicLinkEndpoints.CreateAsync).RequireAccessToken();
        group.MapGet("/magic/{code}", MagicLinkEndpoints.Land).AllowAnonymousAgent();
        return routes;
    }

    /// <summary>--access-token, then COMPUTESDK_ACCESS_TOKEN, then --access-token-file, else a generated token kept in the state dir.</summary>
    private static AccessTokens ResolveAccessTokens(AgentOptions options, StateStore state, StartupLog log, out string[] secrets)
    {
        secrets = options.ApiKey is { Length: > 0 } apiKey ? [apiKey] : [];
        if (options.NoAuth)
        {
            return new AccessTokens(false, []);
        }

        var token = options.AccessToken;
        if (string.IsNullOrEmpty(token))
        {
            token = Environment.GetEnvironmentVariable("COMPUTESDK_ACCESS_TOKEN");
        }

        if (string.IsNullOrEmpty(token) && options.AccessTokenFile is { } file)
        {
            token = File.ReadLines(file).FirstOrDefault()?.Trim();
            if (string.IsNullOrEmpty(token))
            {
                throw new InvalidOperationException($"--access-token-file {file} is empty.");
            }
        }

        if (string.IsNullOrEmpty(token))
        {
            var existing = state.ReadText(TokenFileName)?.Trim();
            if (!string.IsNullOrEmpty(existing))
            {
                token = existing;
                var path = state.PathOf(TokenFileName);
                log.Add(l => l.TokenReused(path));
            }
            else
            {
                token = AccessTokens.Generate("sbx_");
                state.WriteText(TokenFileName, token + "\n");
                var path = state.PathOf(TokenFileName);
                log.Add(l => l.TokenGenerated(path));
            }
        }

        secrets = [token, .. secrets];
        return new AccessTokens(true, secrets);
    }
}
