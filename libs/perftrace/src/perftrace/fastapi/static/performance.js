// Open the trace named in the URL's fragment (links from the critical-path tables and from logs).
if (location.hash) {
  const target = document.getElementById(location.hash.slice(1));
  if (target) {
    target.open = true;
    target.scrollIntoView();
  }
}
