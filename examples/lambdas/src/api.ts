interface Event {
  name?: string;
}

export async function handler(event: Event) {
  return { statusCode: 200, body: JSON.stringify({ message: `hello, ${event.name ?? "world"}` }) };
}
