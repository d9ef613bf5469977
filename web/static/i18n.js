// ClusterChat UI strings (Italian default, English) and the tiny helpers that apply them.
// Every user-visible string of both pages lives here; the HTML only names keys.
"use strict";

(() => {
  const STRINGS = {
    it: {
      "app.tagline": "Domande sulle notizie dei cluster industriali",
      "lang.toggle": "English",
      "lang.toggleShort": "EN",
      "lang.toggleLabel": "Switch the interface to English",
      "nav.admin": "Admin",
      "nav.chat": "Torna alla chat",
      "chat.newConversation": "Nuova conversazione",
      "chat.newConversationShort": "Nuova chat",
      "chat.conversationLabel": "Conversazione",
      "chat.emptyTitle": "Chiedi qualcosa sulle notizie dei cluster",
      "chat.emptyHint": "Le risposte citano gli articoli con [1], [2]…: clicca un numero per leggere la fonte.",
      "chat.examplesTitle": "Prova con",
      "chat.questionLabel": "La tua domanda",
      "chat.skipToQuestion": "Vai alla domanda",
      "chat.questionPlaceholder": "Es. Chi ha organizzato il forum sul digitale?",
      "chat.questionHint": "Invio per inviare, Maiusc+Invio per andare a capo.",
      "chat.ask": "Chiedi",
      "chat.stop": "Interrompi",
      "chat.you": "Tu",
      "chat.assistant": "ClusterChat",
      "chat.thinking": "Sto cercando nelle fonti…",
      "chat.stopped": "Risposta interrotta.",
      "chat.sources": "Fonti",
      "chat.alsoPublished": "Pubblicato anche da:",
      "chat.sourceChip": "Fonte {n}: {title}",
      "role.speaker": "relatore",
      "role.moderator": "moderazione",
      "role.opening": "apertura dei lavori",
      "role.keynote": "keynote",
      "role.closing": "chiusura dei lavori",
      "role.award_winner": "premiato",
      "role.award_presenter": "consegna del premio",
      "role.jury": "giuria",
      "role.coordinator": "coordinamento",
      "role.organiser": "organizzazione",
      "role.other": "altro ruolo",
      "chat.abstainedLabel": "Nessuna risposta nelle fonti",
      "chat.abstainedHint": "Non ho trovato nei documenti una risposta affidabile. Gli articoli più vicini:",
      "chat.noSuggestions": "Nessun articolo vicino da suggerire.",
      "chat.answererExtractive": "Risposta estrattiva (frasi citate testualmente)",
      "chat.answererLlm": "Risposta generata dal modello",
      "chat.answererFallback": "Risposta estrattiva (il modello non era disponibile)",
      "chat.copy": "Copia",
      "chat.copyLabel": "Copia la risposta",
      "chat.copied": "Risposta copiata negli appunti.",
      "chat.copyFailed": "Impossibile copiare la risposta.",
      "chat.rateUp": "Risposta utile",
      "chat.rateDown": "Risposta non utile",
      "chat.feedbackThanks": "Grazie per il feedback.",
      "chat.feedbackFailed": "Il feedback non è stato inviato.",
      "chat.retry": "Riprova",
      "chat.openSource": "Apri l'articolo originale",
      "chat.noUrl": "Nessun link all'articolo originale.",
      "chat.noDate": "Data non indicata",
      "chat.closePanel": "Chiudi la fonte",
      "chat.panelTitle": "Fonte [{n}]",
      "chat.quoteNotFound": "Il brano citato non è stato trovato nel passaggio:",
      "chat.cleared": "Nuova conversazione iniziata.",
      "status.checking": "Controllo del server…",
      "status.serverDown": "Il server non risponde. Controlla che ClusterChat sia avviato e riprova.",
      "status.noIndex": "Non ci sono ancora documenti indicizzati. Aggiungili dalla pagina di amministrazione.",
      "status.retry": "Riprova",
      "error.serverDown": "Il server non risponde: la domanda non è stata inviata.",
      "error.noIndex": "Nessun indice disponibile: aggiungi dei documenti prima di fare domande.",
      "error.failed": "La richiesta non è andata a buon fine ({detail}).",
      "error.interrupted": "La connessione si è interrotta prima della fine della risposta.",
      "error.unknown": "errore sconosciuto",
      "error.needKey": "Questo server chiede una chiave di accesso: inseriscila qui sopra.",
      "error.badKey": "La chiave di accesso non è valida: inseriscine un'altra qui sopra.",
      "key.label": "Chiave di accesso",
      "key.save": "Usa la chiave",
      "key.hint": "Questo server risponde solo a chi ha una chiave di accesso: chiedila a chi lo gestisce.",
      "key.bad": "La chiave inserita non è valida. Controllala o chiedine una nuova a chi gestisce il server.",
      "sources.title": "Fonti (feed, sitemap, pagine)",
      "sources.refreshNow": "Aggiorna ora",
      "sources.urlLabel": "Indirizzo della fonte",
      "sources.urlPlaceholder": "https://…/feed.xml",
      "sources.everyLabel": "Ogni",
      "sources.add": "Aggiungi",
      "sources.colUrl": "Indirizzo",
      "sources.colEvery": "Ogni",
      "sources.colLast": "Ultimo aggiornamento",
      "sources.colStatus": "Stato",
      "sources.colCounts": "Articoli",
      "sources.never": "mai",
      "sources.counts": "+{added} nuovi, {updated} aggiornati, {unchanged} invariati, {failed} falliti",
      "sources.status.ok": "ok",
      "sources.status.partial": "in parte",
      "sources.status.failed": "fallito",
      "sources.status.none": "in attesa",
      "sources.remove": "Rimuovi",
      "sources.removeLabel": "Rimuovi la fonte {url}",
      "sources.confirmRemove": "Non aggiornare più {url}? Gli articoli restano.",
      "sources.added": "Fonte aggiunta: {url}",
      "sources.exists": "Fonte già presente: intervallo aggiornato.",
      "sources.removed": "Fonte rimossa (gli articoli restano).",
      "sources.none": "Nessuna fonte registrata.",
      "sources.jobRunning": "Aggiornamento delle fonti: {done} di {total}",
      "sources.jobDone": "Fonti aggiornate: {added} nuovi, {updated} aggiornati, {unchanged} invariati, {failed} falliti.",
      "sources.jobFailed": "Aggiornamento delle fonti fallito.",
      "sources.busy": "Un altro lavoro è in corso: riprova tra poco.",
      "admin.title": "Amministrazione",
      "admin.tokenTitle": "Accesso",
      "admin.tokenLabel": "Token di amministrazione",
      "admin.tokenHint": "Il token resta solo in questa scheda del browser.",
      "admin.signIn": "Accedi",
      "admin.signOut": "Esci",
      "admin.signedIn": "Accesso eseguito.",
      "admin.badToken": "Token non valido o amministrazione disabilitata ({detail}).",
      "admin.documentsTitle": "Documenti",
      "admin.refresh": "Aggiorna",
      "admin.colTitle": "Titolo",
      "admin.colDate": "Data",
      "admin.colSource": "Origine",
      "admin.colChunks": "Passaggi",
      "admin.colActions": "Azioni",
      "admin.delete": "Elimina",
      "admin.deleteLabel": "Elimina «{title}»",
      "admin.confirmDelete": "Eliminare «{title}» dall'indice?",
      "admin.deleted": "Documento eliminato.",
      "admin.noDocuments": "Nessun documento nell'indice.",
      "admin.documentCount": "{n} documenti",
      "admin.loading": "Caricamento…",
      "admin.uploadTitle": "Aggiungi articoli",
      "admin.dropHint": "Trascina qui i file (.txt, .md, .html, .pdf, .jsonl) oppure",
      "admin.choose": "scegli dal computer",
      "admin.uploading": "Caricamento di {n} file…",
      "admin.uploadResult": "Aggiunti {added}, aggiornati {updated}, invariati {unchanged}, falliti {failed}.",
      "admin.conflictsTitle": "Esiste già un articolo caricato con lo stesso nome di file:",
      "admin.conflictItem": "{file}: già salvato come «{title}»",
      "admin.conflictReplace": "Sostituisci",
      "admin.conflictKeep": "Tieni entrambi",
      "admin.conflictCancel": "Annulla",
      "admin.conflictAsk": "{n} file con un nome già usato: scegli se sostituire o tenere entrambi.",
      "admin.conflictCancelled": "Caricamento annullato per {n} file; gli articoli salvati non sono cambiati.",
      "admin.reindexTitle": "Indice",
      "admin.reindex": "Ricostruisci l'indice",
      "admin.reindexRunning": "Un aggiornamento dell'indice è già in corso.",
      "admin.jobQueued": "In coda…",
      "admin.jobRunning": "Indicizzazione: {done} di {total}",
      "admin.jobDone": "Indice aggiornato ({done} di {total}).",
      "admin.jobFailed": "Aggiornamento dell'indice fallito.",
      "admin.failed": "Operazione non riuscita ({detail}).",
      "admin.serverDown": "Il server non risponde.",
    },
    en: {
      "app.tagline": "Questions about industry cluster news",
      "lang.toggle": "Italiano",
      "lang.toggleShort": "IT",
      "lang.toggleLabel": "Passa all'interfaccia in italiano",
      "nav.admin": "Admin",
      "nav.chat": "Back to chat",
      "chat.newConversation": "New conversation",
      "chat.newConversationShort": "New chat",
      "chat.conversationLabel": "Conversation",
      "chat.emptyTitle": "Ask about the cluster news",
      "chat.emptyHint": "Answers cite articles with [1], [2]…: click a number to read the source.",
      "chat.examplesTitle": "Try",
      "chat.questionLabel": "Your question",
      "chat.skipToQuestion": "Skip to the question",
      "chat.questionPlaceholder": "E.g. Who organised the digital forum?",
      "chat.questionHint": "Enter to send, Shift+Enter for a new line.",
      "chat.ask": "Ask",
      "chat.stop": "Stop",
      "chat.you": "You",
      "chat.assistant": "ClusterChat",
      "chat.thinking": "Searching the sources…",
      "chat.stopped": "Answer stopped.",
      "chat.sources": "Sources",
      "chat.alsoPublished": "Also published by:",
      "chat.sourceChip": "Source {n}: {title}",
      "role.speaker": "speaker",
      "role.moderator": "moderator",
      "role.opening": "opening",
      "role.keynote": "keynote",
      "role.closing": "closing",
      "role.award_winner": "award winner",
      "role.award_presenter": "award presenter",
      "role.jury": "jury",
      "role.coordinator": "coordinator",
      "role.organiser": "organiser",
      "role.other": "other role",
      "chat.abstainedLabel": "No answer in the sources",
      "chat.abstainedHint": "I could not find a reliable answer in the documents. The closest articles:",
      "chat.noSuggestions": "No close article to suggest.",
      "chat.answererExtractive": "Extractive answer (sentences quoted verbatim)",
      "chat.answererLlm": "Answer generated by the model",
      "chat.answererFallback": "Extractive answer (the model was unavailable)",
      "chat.copy": "Copy",
      "chat.copyLabel": "Copy the answer",
      "chat.copied": "Answer copied to the clipboard.",
      "chat.copyFailed": "Could not copy the answer.",
      "chat.rateUp": "Helpful answer",
      "chat.rateDown": "Unhelpful answer",
      "chat.feedbackThanks": "Thanks for the feedback.",
      "chat.feedbackFailed": "The feedback was not sent.",
      "chat.retry": "Retry",
      "chat.openSource": "Open the original article",
      "chat.noUrl": "No link to the original article.",
      "chat.noDate": "No date",
      "chat.closePanel": "Close the source",
      "chat.panelTitle": "Source [{n}]",
      "chat.quoteNotFound": "The quoted text was not found in the passage:",
      "chat.cleared": "New conversation started.",
      "status.checking": "Checking the server…",
      "status.serverDown": "The server is not responding. Check that ClusterChat is running and retry.",
      "status.noIndex": "No documents are indexed yet. Add some from the admin page.",
      "status.retry": "Retry",
      "error.serverDown": "The server is not responding: the question was not sent.",
      "error.noIndex": "No index available: add documents before asking questions.",
      "error.failed": "The request failed ({detail}).",
      "error.interrupted": "The connection dropped before the answer was complete.",
      "error.unknown": "unknown error",
      "error.needKey": "This server asks for an access key: enter it above.",
      "error.badKey": "The access key is not valid: enter another one above.",
      "key.label": "Access key",
      "key.save": "Use this key",
      "key.hint": "This server only answers with an access key: ask whoever runs it.",
      "key.bad": "That key is not valid. Check it, or ask whoever runs the server for a new one.",
      "sources.title": "Sources (feeds, sitemaps, pages)",
      "sources.refreshNow": "Refresh now",
      "sources.urlLabel": "Source URL",
      "sources.urlPlaceholder": "https://…/feed.xml",
      "sources.everyLabel": "Every",
      "sources.add": "Add",
      "sources.colUrl": "URL",
      "sources.colEvery": "Every",
      "sources.colLast": "Last fetch",
      "sources.colStatus": "Status",
      "sources.colCounts": "Articles",
      "sources.never": "never",
      "sources.counts": "+{added} new, {updated} updated, {unchanged} unchanged, {failed} failed",
      "sources.status.ok": "ok",
      "sources.status.partial": "partly",
      "sources.status.failed": "failed",
      "sources.status.none": "waiting",
      "sources.remove": "Remove",
      "sources.removeLabel": "Remove the source {url}",
      "sources.confirmRemove": "Stop refreshing {url}? Its articles stay.",
      "sources.added": "Source added: {url}",
      "sources.exists": "Source already registered: interval updated.",
      "sources.removed": "Source removed (its articles stay).",
      "sources.none": "No sources registered.",
      "sources.jobRunning": "Refreshing sources: {done} of {total}",
      "sources.jobDone": "Sources refreshed: {added} new, {updated} updated, {unchanged} unchanged, {failed} failed.",
      "sources.jobFailed": "Refreshing the sources failed.",
      "sources.busy": "Another job is running: try again shortly.",
      "admin.title": "Admin",
      "admin.tokenTitle": "Sign in",
      "admin.tokenLabel": "Admin token",
      "admin.tokenHint": "The token is kept only in this browser tab.",
      "admin.signIn": "Sign in",
      "admin.signOut": "Sign out",
      "admin.signedIn": "Signed in.",
      "admin.badToken": "Invalid token or admin disabled ({detail}).",
      "admin.documentsTitle": "Documents",
      "admin.refresh": "Refresh",
      "admin.colTitle": "Title",
      "admin.colDate": "Date",
      "admin.colSource": "Source",
      "admin.colChunks": "Passages",
      "admin.colActions": "Actions",
      "admin.delete": "Delete",
      "admin.deleteLabel": "Delete “{title}”",
      "admin.confirmDelete": "Delete “{title}” from the index?",
      "admin.deleted": "Document deleted.",
      "admin.noDocuments": "No documents in the index.",
      "admin.documentCount": "{n} documents",
      "admin.loading": "Loading…",
      "admin.uploadTitle": "Add articles",
      "admin.dropHint": "Drop files here (.txt, .md, .html, .pdf, .jsonl) or",
      "admin.choose": "choose from your computer",
      "admin.uploading": "Uploading {n} file(s)…",
      "admin.uploadResult": "Added {added}, updated {updated}, unchanged {unchanged}, failed {failed}.",
      "admin.conflictsTitle": "An uploaded article already has the same file name:",
      "admin.conflictItem": "{file}: already stored as “{title}”",
      "admin.conflictReplace": "Replace",
      "admin.conflictKeep": "Keep both",
      "admin.conflictCancel": "Cancel",
      "admin.conflictAsk": "{n} file(s) with a name already in use: replace, or keep both?",
      "admin.conflictCancelled": "Upload cancelled for {n} file(s); the stored articles are unchanged.",
      "admin.reindexTitle": "Index",
      "admin.reindex": "Rebuild the index",
      "admin.reindexRunning": "An index update is already running.",
      "admin.jobQueued": "Queued…",
      "admin.jobRunning": "Indexing: {done} of {total}",
      "admin.jobDone": "Index updated ({done} of {total}).",
      "admin.jobFailed": "Index update failed.",
      "admin.failed": "The operation failed ({detail}).",
      "admin.serverDown": "The server is not responding.",
    },
  };

  const LANG_KEY = "clusterchat.lang";
  const SUPPORTED = Object.keys(STRINGS);
  const listeners = [];
  let current = "it";

  function readStored() {
    try {
      return localStorage.getItem(LANG_KEY);
    } catch {
      return null; // storage disabled: fall back to the page default
    }
  }

  /** Translate `key`, filling `{name}` placeholders from `vars`. Unknown keys show as-is. */
  function t(key, vars = {}) {
    const table = STRINGS[current] || STRINGS.it;
    const template = table[key] ?? STRINGS.it[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (match, name) =>
      Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : match,
    );
  }

  /** Apply data-i18n (textContent) and data-i18n-attr ("attr:key;attr:key") under `root`. */
  function apply(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) {
      el.textContent = t(el.dataset.i18n);
    }
    for (const el of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of el.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) el.setAttribute(attr, t(key));
      }
    }
    // The toggle is written in the language it switches to.
    const toggle = root.querySelector("#lang-toggle");
    if (toggle) toggle.lang = current === "it" ? "en" : "it";
  }

  function setLang(lang) {
    current = SUPPORTED.includes(lang) ? lang : "it";
    document.documentElement.lang = current;
    try {
      localStorage.setItem(LANG_KEY, current);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
    apply();
    for (const fn of listeners) fn(current);
  }

  /** Pick the stored language, else the page's <html lang>, and wire #lang-toggle. */
  function init() {
    const stored = readStored();
    const fallback = document.documentElement.lang || "it";
    current = SUPPORTED.includes(stored) ? stored : SUPPORTED.includes(fallback) ? fallback : "it";
    document.documentElement.lang = current;
    apply();
    const toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => setLang(current === "it" ? "en" : "it"));
    }
  }

  /** Format an ISO date (YYYY-MM-DD) for the current language; "" when missing or invalid. */
  function formatDate(iso) {
    if (typeof iso !== "string" || !/^\d{4}-\d{2}-\d{2}/.test(iso)) return "";
    const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
    const date = new Date(Date.UTC(y, m - 1, d));
    if (Number.isNaN(date.getTime())) return "";
    const locale = current === "it" ? "it-IT" : "en-GB";
    return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" }).format(date);
  }

  window.I18N = {
    t,
    apply,
    init,
    setLang,
    formatDate,
    lang: () => current,
    onChange: (fn) => listeners.push(fn),
  };
})();
