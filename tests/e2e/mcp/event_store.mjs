// An in-memory event store for the SDK's StreamableHTTPServerTransport (its `eventStore` option),
// which turns on resumability: every SSE event gets an id, and a client that reconnects with
// `Last-Event-ID` is sent the events of that stream that came after it.
//
// Like the SDK's example InMemoryEventStore, but ordered by a counter: the example sorts ids made
// of Date.now() and a random suffix, which misorders two events of the same millisecond.
export class EventStore {
  constructor() { this.events = []; this.n = 0; }

  async storeEvent(streamId, message) {
    const eventId = `${streamId}__${String(++this.n).padStart(10, '0')}`;
    this.events.push({ eventId, streamId, message });
    return eventId;
  }

  async getStreamIdForEventId(eventId) {
    return this.events.find((e) => e.eventId === eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId, { send }) {
    const at = this.events.findIndex((e) => e.eventId === lastEventId);
    if (at < 0) return '';
    const { streamId } = this.events[at];
    for (const e of this.events.slice(at + 1)) if (e.streamId === streamId) await send(e.eventId, e.message);
    return streamId;
  }
}
