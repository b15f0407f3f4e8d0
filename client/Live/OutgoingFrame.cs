using System.Net.WebSockets;

namespace Sandboxd.Client.Live;

/// <summary>A serialized client → agent frame; <see cref="Sent"/> (when set) completes once the socket accepted it.</summary>
internal sealed record OutgoingFrame(byte[] Payload, WebSocketMessageType Kind, TaskCompletionSource? Sent = null);
