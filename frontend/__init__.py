"""The browser side: templates, static ES modules and CSS, page views."""
