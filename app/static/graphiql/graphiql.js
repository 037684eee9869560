// Strawberry's GraphiQL page script (strawberry/static/graphiql.html), in a file so the page's
// Content-Security-Policy allows scripts from this origin only. Differences: no subscriptions (the API
// offers none), no CSRF cookie, and the API key goes in the headers pane, which starts with the X-API-Key
// header to fill in and is never stored (not in the URL, not in localStorage).
//
// Every request needs the key, the schema's introspection too. So the fetcher sends nothing while the
// headers carry no key: it answers with a GraphQL error saying where the key goes (GraphiQL shows it in
// the response pane) instead of a request the API would refuse with a 401. GraphiQL introspects again
// whenever its fetcher changes, so a new fetcher is made when the key in the headers pane changes (once
// typing pauses): entering the key loads the schema (docs explorer, autocompletion). The fetcher is a
// plain JSON POST in place of GraphiQL.createFetcher's, which adds subscriptions and incremental
// delivery (@defer), neither of which the API offers.
"use strict";

const ENDPOINT = window.location.href.split("?")[0];
const INITIAL_HEADERS = '{"X-API-Key": ""}';
// How long the key must stay unchanged in the headers pane before the schema is fetched with it.
const KEY_SETTLE_MS = 400;
const NO_KEY = "API_KEY_MISSING";
const KEY_REFUSED = "API_KEY_REFUSED";

const parameters = {};
for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}

// The query and variables are kept in the URL to share; the headers (the key) never are.
function updateURL(data) {
  Object.assign(parameters, data);
  const search = Object.keys(parameters)
    .filter((key) => Boolean(parameters[key]))
    .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
    .join("&");
  history.replaceState(null, null, "?" + search);
}

// The key in a headers object, as the API reads it (app/auth.py): `X-API-Key: <key>` or
// `Authorization: Bearer <key>`, the names in any case; "" when there is none.
function keyIn(headers) {
  if (!headers || typeof headers !== "object" || Array.isArray(headers)) {
    return "";
  }
  for (const name of Object.keys(headers)) {
    const value = typeof headers[name] === "string" ? headers[name].trim() : "";
    if (name.toLowerCase() === "x-api-key" && value) {
      return value;
    }
    const bearer = /^bearer\s+(\S+)$/i.exec(value);
    if (name.toLowerCase() === "authorization" && bearer) {
      return bearer[1];
    }
  }
  return "";
}

// The key in the headers pane's text; null while the text is not JSON (half typed): no change.
function keyInText(text) {
  if (!text || !text.trim()) {
    return "";
  }
  try {
    return keyIn(JSON.parse(text));
  } catch {
    return null;
  }
}

function pageError(code, message) {
  return { data: null, errors: [{ message: message, extensions: { code: code } }] };
}

// `data: null` in both: GraphiQL tries its introspection a second time, without subscriptions, only when
// the first answer has no `data` at all.
const noKeyAnswer = () =>
  pageError(
    NO_KEY,
    'No API key: add it in the Headers pane (below the query), as {"X-API-Key": "<your key>"}. ' +
      "The schema (docs explorer, autocompletion) loads as soon as it is there; nothing is sent without it.",
  );

async function fetchGraphQL(params, opts) {
  const headers = (opts && opts.headers) || {};
  if (!keyIn(headers)) {
    return noKeyAnswer();
  }
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: Object.assign({ Accept: "application/json", "Content-Type": "application/json" }, headers),
    body: JSON.stringify(params),
  });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (response.status === 401) {
    const why = body && typeof body.message === "string" ? body.message : text;
    return pageError(KEY_REFUSED, "The API refused this key (401): " + why + ". Check the Headers pane.");
  }
  if (body === null) {
    return pageError("HTTP_" + response.status, "HTTP " + response.status + ": " + text);
  }
  return body;
}

// Clears the response pane of the page's own key message once a schema has loaded, so it does not
// linger after the key was entered. Rendered in the toolbar (inside GraphiQL's contexts); draws nothing.
function ClearKeyMessage() {
  const { schema } = GraphiQL.React.useSchemaContext({ nonNull: true });
  const { responseEditor } = GraphiQL.React.useEditorContext({ nonNull: true });
  React.useEffect(() => {
    if (!schema || !responseEditor) {
      return;
    }
    const text = responseEditor.getValue();
    if (text.includes('"' + NO_KEY + '"') || text.includes('"' + KEY_REFUSED + '"')) {
      responseEditor.setValue("");
    }
  }, [schema, responseEditor]);
  return null;
}

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [key, setKey] = React.useState(keyInText(INITIAL_HEADERS) || "");
  const settle = React.useRef(null);
  // A new fetcher (same behaviour) for each key: GraphiQL then fetches the schema again.
  const fetcher = React.useMemo(() => (params, opts) => fetchGraphQL(params, opts), [key]);
  React.useEffect(() => () => clearTimeout(settle.current), []);
  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query: query,
    variables: variables,
    // The headers pane starts with the header to fill in, on every visit (headers are not stored), and
    // so does every new tab.
    headers: INITIAL_HEADERS,
    defaultHeaders: INITIAL_HEADERS,
    shouldPersistHeaders: false,
    onEditQuery: (newQuery) => {
      setQuery(newQuery);
      updateURL({ q: newQuery });
    },
    onEditVariables: (newVariables) => {
      setVariables(newVariables);
      updateURL({ variables: newVariables });
    },
    onEditHeaders: (newHeaders) => {
      clearTimeout(settle.current);
      const newKey = keyInText(newHeaders);
      if (newKey !== null) {
        settle.current = setTimeout(() => setKey(newKey), KEY_SETTLE_MS);
      }
    },
    toolbar: { additionalComponent: ClearKeyMessage },
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQLWithExplorer));
