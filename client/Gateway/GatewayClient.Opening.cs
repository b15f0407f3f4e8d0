using System.Net;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Gateway;

/// <summary>From a gateway answer to a ready sandbox: findOrCreate's polling, the envelope checks and the health wait.</summary>
public sealed partial class GatewayClient
{
    private const string CreatingStatus = "creating";
    private static readonly TimeSpan CreatingFirstDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan CreatingMaxDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HealthFirstDelay = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan HealthMaxDelay = TimeSpan.FromSeconds(1);

    /// <summary>Asks until the answer is not <c>status:"creating"</c> (another call is still creating that sandbox): after
    /// 500 ms, then ×1.5 per attempt, at most 2 s apart, for up to <see cref="GatewayClientOptions.CreatingTimeout"/>.
    /// Returns the last answer (null on 404).</summary>
    private async Task<GatewayEnvelope<GatewaySandboxInfo>?> PollWhileCreatingAsync(
        Func<CancellationToken, Task<GatewayEnvelope<GatewaySandboxInfo>?>> ask, string what, CancellationToken cancellationToken)
    {
        var time = Options.TimeProvider;
        var started = time.GetTimestamp();
        var delay = CreatingFirstDelay;
        while (true)
        {
            var envelope = await ask(cancellationToken).ConfigureAwait(false);
            if (envelope is not { Success: true, Data.Status: CreatingStatus })
            {
                return envelope;
            }

            if (time.GetElapsedTime(started) + delay > Options.CreatingTimeout)
            {
                throw new SandboxdException($"The sandbox {what} is still being created after {Options.CreatingTimeout.TotalSeconds:0.#} s "
                    + "(the gateway keeps answering status \"creating\"); try again later or raise GatewayClientOptions.CreatingTimeout.");
            }

            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min((long)(delay.Ticks * 1.5), CreatingMaxDelay.Ticks));
        }
    }

    /// <summary>A client for the sandbox's daemon (its token, or the API key when the gateway sent none, as the official
    /// client does), returned once <c>GET /health</c> answers.</summary>
    /// <exception cref="GatewaySandboxGoneException">The gateway no longer has the sandbox (it expired or was destroyed
    /// while its agent was being reached).</exception>
    private async Task<GatewaySandbox> OpenAsync(string sandboxId, GatewaySandboxInfo info, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(info.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new SandboxdException($"The gateway answered with '{info.Url}' as the URL of sandbox {sandboxId}, which is not an absolute http(s) URL.");
        }

        var client = new SandboxClient(url, string.IsNullOrEmpty(info.Token) ? _apiKey : info.Token, Options.SandboxClientOptions);
        try
        {
            await WaitUntilHealthyAsync(client, sandboxId, cancellationToken).ConfigureAwait(false);
            return new GatewaySandbox(this, sandboxId, info, client);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task WaitUntilHealthyAsync(SandboxClient client, string sandboxId, CancellationToken cancellationToken)
    {
        var time = Options.TimeProvider;
        var started = time.GetTimestamp();
        var delay = HealthFirstDelay;
        while (true)
        {
            var remaining = Options.ReadyTimeout - time.GetElapsedTime(started);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
            string failure;
            try
            {
                await client.Info.HealthAsync(attempt.Token).ConfigureAwait(false);
                return;
            }
            catch (SandboxdException e)
            {
                failure = e.Message;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = "GET /health did not answer";
            }

            // An agent that stops answering may be one the gateway is destroying (expiry, another caller's destroy):
            // then waiting out the ready timeout would only delay the answer that the sandbox is gone.
            if (await IsGoneAsync(sandboxId, cancellationToken).ConfigureAwait(false))
            {
                throw new GatewaySandboxGoneException(sandboxId);
            }

            if (time.GetElapsedTime(started) + delay > Options.ReadyTimeout)
            {
                throw new SandboxdException($"The sandbox {sandboxId} at {client.BaseUrl} did not answer GET /health within "
                    + $"{Options.ReadyTimeout.TotalSeconds:0.#} s (last: {failure}). It still exists: destroy it with DestroyAsync(\"{sandboxId}\").");
            }

            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min((long)(delay.Ticks * 1.5), HealthMaxDelay.Ticks));
        }
    }

    /// <summary>True when the gateway answers that it has no such sandbox any more (404), or that it is being destroyed.</summary>
    private async Task<bool> IsGoneAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var envelope = await _transport.SendAsync(HttpMethod.Get, "/v1/sandboxes/" + Uri.EscapeDataString(sandboxId),
            Json.GatewayEnvelopeGatewaySandboxInfo, cancellationToken).ConfigureAwait(false);
        return envelope is not { Success: true, Data: { } info } || info.Status is "destroying" or "gone";
    }

    /// <summary>The data of an answer that must carry one (create, findOrCreate, snapshot create).</summary>
    private static T Require<T>(GatewayEnvelope<T>? envelope, string route) where T : class =>
        envelope switch
        {
            null => throw NotFound(route, "what it asked for"),
            { Success: true, Data: { } data } => data,
            _ => throw new SandboxdException($"{route}: the gateway returned an invalid response (no success:true with data)."),
        };

    private static string RequireId(GatewaySandboxInfo info, string route) =>
        info.SandboxId is { Length: > 0 } id
            ? id
            : throw new SandboxdException($"{route}: the gateway returned an invalid response (a sandbox without sandboxId).");

    private static SandboxdException NotFound(string route, string what) =>
        new($"{route} answered 404: {what} was not found for this API key.", HttpStatusCode.NotFound, null);
}

/// <summary>The sandbox went away (expired or destroyed) while the client was reaching its agent.</summary>
public sealed class GatewaySandboxGoneException(string sandboxId)
    : SandboxdException($"The sandbox {sandboxId} was destroyed (or expired) while its agent was being reached.")
{
    public string SandboxId { get; } = sandboxId;
}
