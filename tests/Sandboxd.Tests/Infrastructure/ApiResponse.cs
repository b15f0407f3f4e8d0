using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using FluentAssertions;
using Sandboxd.Protocol;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>A fully read HTTP response, with the agent's stderr tail at hand for failure messages.</summary>
public sealed class ApiResponse(HttpStatusCode status, string text, HttpResponseHeaders headers, HttpContentHeaders contentHeaders, string request, Func<string> agentLog)
{
    private JsonElement? _json;

    public HttpStatusCode Status { get; } = status;
    public int Code => (int)Status;
    public string Text { get; } = text;
    public HttpResponseHeaders Headers { get; } = headers;
    public HttpContentHeaders ContentHeaders { get; } = contentHeaders;

    /// <summary>The body as JSON; fails the test (with the raw body) when it is not JSON.</summary>
    public JsonElement Json
    {
        get
        {
            if (_json is null)
            {
                try
                {
                    using var document = JsonDocument.Parse(Text);
                    _json = document.RootElement.Clone();
                }
                catch (JsonException e)
                {
                    throw new InvalidOperationException($"{request} → {Code}: body is not JSON ({e.Message}): '{Text}'", e);
                }
            }

            return _json.Value;
        }
    }

    /// <summary>The envelope's <c>data</c>, after checking the envelope itself.</summary>
    public JsonElement Data
    {
        get
        {
            Json.ValueKind.Should().Be(JsonValueKind.Object, Describe());
            Json.GetProperty("status").GetString().Should().Be("success", Describe());
            Json.TryGetProperty("message", out var message).Should().BeTrue("every envelope carries a message: " + Describe());
            message.ValueKind.Should().Be(JsonValueKind.String);
            return Json.GetProperty("data");
        }
    }

    public T Envelope<T>(JsonTypeInfo<Envelope<T>> type) => Json.Deserialize(type)!.Data;

    public T Body<T>(JsonTypeInfo<T> type) => Json.Deserialize(type)!;

    public string Describe() => $"{request} → {Code} {Text}\n--- agent stderr (tail) ---\n{agentLog()}";

    public override string ToString() => $"{request} → {Code} {Text}";

    /// <summary>Asserts the status code, printing the request, body and agent log when it differs.</summary>
    public ApiResponse ShouldHaveStatus(int expected)
    {
        Code.Should().Be(expected, Describe());
        return this;
    }

    /// <summary>Asserts an error answer: the status, a JSON content type and <c>{status:"error", error:"&lt;text&gt;"}</c>.</summary>
    public string ShouldBeError(int expected)
    {
        ShouldHaveStatus(expected);
        ContentHeaders.ContentType?.MediaType.Should().Be("application/json", Describe());
        Json.ValueKind.Should().Be(JsonValueKind.Object, Describe());
        Json.GetProperty("status").GetString().Should().Be("error", Describe());
        var error = Json.GetProperty("error");
        error.ValueKind.Should().Be(JsonValueKind.String, "the client prints body.error, so it must be a string: " + Describe());
        error.GetString().Should().NotBeNullOrWhiteSpace(Describe());
        return error.GetString()!;
    }
}
