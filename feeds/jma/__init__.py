"""JMA 防災情報XML: polling the Atom feeds, parsing documents, deciding by policy."""
