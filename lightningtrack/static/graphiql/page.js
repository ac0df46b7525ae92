// Starts GraphiQL on /graphql. Loaded as a file (not inline) so that the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";

  var endpoint = window.location.pathname;
  var params = new URLSearchParams(window.location.search);
  var workspace = params.get("workspace");
  var headers = params.get("headers");
  if (!headers && workspace) {
    headers = JSON.stringify({ "X-Workspace": workspace }, null, 2);
  }

  var welcome = [
    "# LightningTrack GraphQL API",
    "#",
    "# Signed in (signIn sets the session cookie), name the workspace in the headers",
    '# editor below: {"X-Workspace": "acme"}. An integrator sends its API key instead:',
    '# {"Authorization": "Bearer ltk_..."}. Ctrl-Enter runs the operation.',
    "",
    "query Viewer {",
    "  viewer {",
    "    name",
    "    email",
    "  }",
    "}",
    "",
  ].join("\n");

  async function fetcher(request, options) {
    var sent = Object.assign(
      {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
      },
      (options && options.headers) || {}
    );
    var response = await fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: sent,
      body: JSON.stringify(request),
    });
    var text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      // The transport guard and the rate limiter answer in plain text.
      return { errors: [{ message: response.status + " " + text }] };
    }
  }

  // GraphiQL keeps its tabs, history and favourites in localStorage. With
  // shouldPersistHeaders off it leaves the headers out of the tabs, but its history and
  // favourites still record each operation's headers (an API key among them) and its
  // variables (signIn's password, a reset token). This storage writes every "headers"
  // and "variables" entry as null and never writes the variables editor itself: neither
  // reaches the disk, and both live only as long as the page.
  var KEPT_IN_MEMORY = ["graphiql:variables", "graphiql:headers"];

  function withoutSecrets(value) {
    if (Array.isArray(value)) {
      return value.map(withoutSecrets);
    }
    if (value && typeof value === "object") {
      var copy = {};
      Object.keys(value).forEach(function (key) {
        copy[key] =
          key === "headers" || key === "variables" ? null : withoutSecrets(value[key]);
      });
      return copy;
    }
    return value;
  }

  var storage = {
    getItem: function (key) {
      return window.localStorage.getItem(key);
    },
    setItem: function (key, value) {
      if (KEPT_IN_MEMORY.indexOf(key) !== -1) {
        window.localStorage.removeItem(key);
        return;
      }
      var kept = value;
      try {
        kept = JSON.stringify(withoutSecrets(JSON.parse(value)));
      } catch (error) {
        // Not JSON (a flag such as the theme): nothing there can hold a secret.
      }
      window.localStorage.setItem(key, kept);
    },
    removeItem: function (key) {
      window.localStorage.removeItem(key);
    },
    clear: function () {
      Object.keys(window.localStorage).forEach(function (key) {
        if (key.indexOf("graphiql:") === 0) {
          window.localStorage.removeItem(key);
        }
      });
    },
    get length() {
      return Object.keys(window.localStorage).filter(function (key) {
        return key.indexOf("graphiql:") === 0;
      }).length;
    },
  };

  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function Page() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: welcome,
      headers: headers || undefined,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: headers ? "headers" : true,
      // Headers may hold an API key: never written to the browser's storage.
      shouldPersistHeaders: false,
      storage: storage,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
})();
