// Strawberry's GraphiQL page script (strawberry/static/graphiql.html), in a file so the page's
// Content-Security-Policy allows scripts from this origin only. Differences: no subscriptions (the API
// offers none), no CSRF cookie (the API key goes in the headers pane), and the headers pane starts with
// the x-api-key header to fill in.
"use strict";

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

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q);
  const [variables, setVariables] = React.useState(parameters.variables);
  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query: query,
    variables: variables,
    defaultHeaders: '{"x-api-key": ""}',
    onEditQuery: (newQuery) => {
      setQuery(newQuery);
      updateURL({ q: newQuery });
    },
    onEditVariables: (newVariables) => {
      setVariables(newVariables);
      updateURL({ variables: newVariables });
    },
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQLWithExplorer));
