import { createServer } from "node:http";
import { greeting } from "./greeting.ts";

const port = Number(process.env.PORT ?? 8080);
createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(`${greeting()}\n`);
}).listen(port, () => console.log(`listening on ${port}`));
