// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gendoc: the generated parts of the documentation, from the code itself.
 *
 *   gendoc man TEMPLATE VERSION DATE   the man page: TEMPLATE with @VERSION@
 *                                      and @DATE@ replaced, a line @OPTIONS@
 *                                      replaced by the tracer's option table
 *                                      (src/options.c), @REPORT_OPTIONS@ by
 *                                      report's, and a line @METRICS@ by
 *                                      every metric family the registry renders
 *                                      (src/metrics*.c: name, type, labels, HELP)
 *   gendoc completion                  the bash completion script
 *
 * Built and run at build time (packaging/install.mk): the man page and the
 * completion cannot drift from --help and /metrics.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "options.h"

/* ---- roff ---------------------------------------------------------------- */

/*
 * Text for a roff text line: backslashes escaped, a '-' that starts a word
 * (an option) or follows one ("--") is a minus sign (\-) so it can be copied
 * and searched; hyphens inside words stay hyphens. A leading '.' or '\''
 * would be a request: escaped with \&.
 */
static void roff(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (const char *p = s; *p; p++) {
		bool word_start = p == s || isspace((unsigned char)p[-1]) || strchr("([{/,'\"", p[-1]);

		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-' && (word_start || p[-1] == '-'))
			fputs("\\-", out);
		else
			fputc(*p, out);
	}
}

/* More than one group: a subsection each; one group needs no heading. */
static bool several_groups(int cmd)
{
	struct tf_option_doc first, d;

	if (tf_options_doc(cmd, 0, &first))
		return false;
	for (int i = 1; !tf_options_doc(cmd, i, &d); i++)
		if (strcmp(first.group, d.group))
			return true;
	return false;
}

static void man_options(FILE *out, int cmd)
{
	bool headings = several_groups(cmd);
	struct tf_option_doc d;
	const char *group = NULL;

	for (int i = 0; !tf_options_doc(cmd, i, &d); i++) {
		if (headings && (!group || strcmp(group, d.group))) {
			group = d.group;
			fputs(".SS ", out);
			roff(out, group);
			fputc('\n', out);
		}
		fputs(".TP\n", out);
		if (d.short_name)
			fprintf(out, "\\fB\\-%c\\fR, ", d.short_name);
		fputs("\\fB\\-\\-", out);
		roff(out, d.name);
		fputs("\\fR", out);
		if (d.arg) {
			fputs(" \\fI", out);
			roff(out, d.arg);
			fputs("\\fR", out);
		}
		fputc('\n', out);
		roff(out, d.help);
		fputs(".\n", out);
	}
}

/* ---- metrics: render an empty registry and describe each family --------- */

struct family {
	char name[128], type[32], help[1024], labels[256];
	bool have_labels;
};

/* "k1, k2" from the label set of a sample line (le left out). */
static void sample_labels(const char *line, char *out, size_t len)
{
	const char *p = strchr(line, '{');
	size_t n = 0;

	out[0] = 0;
	if (!p)
		return;
	for (p++; *p && *p != '}';) {
		const char *eq = strchr(p, '=');
		bool quoted = false;

		if (!eq)
			break;
		if (!(eq - p == 2 && !strncmp(p, "le", 2)))
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%.*s", n ? ", " : "",
					      (int)(eq - p), p);
		/* skip the quoted value (with its escapes) and the comma */
		for (p = eq + 1; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
			} else if (*p == '"') {
				if (quoted) {
					p++;
					break;
				}
				quoted = true;
			}
		}
		if (*p == ',')
			p++;
	}
}

static void emit_family(FILE *out, const struct family *f)
{
	fputs(".TP\n\\fB", out);
	roff(out, f->name);
	fputs("\\fR (", out);
	roff(out, f->type);
	if (f->labels[0]) {
		fputs("; labels: ", out);
		roff(out, f->labels);
	}
	fputs(")\n", out);
	roff(out, f->help);
	fputc('\n', out);
}

static int man_metrics(FILE *out)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "doc");
	struct tf_metrics_values *v = m ? tf_metrics_copy(m, NULL) : NULL;
	struct tf_text t = { 0 };
	struct family f = { 0 };
	char *line, *save = NULL;
	int nfam = 0;

	if (!v || (v->have_tw = true, tf_metrics_render(v, &t)) || !t.buf) {
		fprintf(stderr, "gendoc: rendering the metrics failed\n");
		return -1;
	}
	for (line = strtok_r(t.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			const char *sp = strchr(line + 7, ' ');

			if (nfam++)
				emit_family(out, &f);
			memset(&f, 0, sizeof(f));
			snprintf(f.name, sizeof(f.name), "%.*s", sp ? (int)(sp - line - 7) : 0, line + 7);
			snprintf(f.help, sizeof(f.help), "%s", sp ? sp + 1 : "");
		} else if (!strncmp(line, "# TYPE ", 7)) {
			const char *sp = strrchr(line, ' ');

			snprintf(f.type, sizeof(f.type), "%s", sp ? sp + 1 : "");
		} else if (line[0] != '#' && !f.have_labels) {
			sample_labels(line, f.labels, sizeof(f.labels));
			f.have_labels = true;
		}
	}
	if (nfam)
		emit_family(out, &f);
	tf_text_free(&t);
	free(v);
	tf_metrics_free(m);
	return nfam ? 0 : -1;
}

static int man(const char *template, const char *version, const char *date)
{
	FILE *in = fopen(template, "r");
	char line[4096];
	int rc = 0;

	if (!in) {
		perror(template);
		return 1;
	}
	while (!rc && fgets(line, sizeof(line), in)) {
		if (!strcmp(line, "@OPTIONS@\n")) {
			man_options(stdout, TF_CMD_TRACE);
			continue;
		}
		if (!strcmp(line, "@REPORT_OPTIONS@\n")) {
			man_options(stdout, TF_CMD_REPORT);
			continue;
		}
		if (!strcmp(line, "@METRICS@\n")) {
			rc = man_metrics(stdout);
			continue;
		}
		for (char *p = line; *p;) {
			if (!strncmp(p, "@VERSION@", 9)) {
				fputs(version, stdout);
				p += 9;
			} else if (!strncmp(p, "@DATE@", 6)) {
				fputs(date, stdout);
				p += 6;
			} else {
				fputc(*p++, stdout);
			}
		}
	}
	fclose(in);
	return rc || ferror(stdout) ? 1 : 0;
}

/* ---- bash completion ----------------------------------------------------- */

/* What to offer after an option or as an operand, by the name of its argument. */
static const char *arg_completer(const char *arg)
{
	if (!strcmp(arg, "PATH") || !strncmp(arg, "FILE", 4))	/* FILE, FILE.jsonl */
		return "_filedir";
	if (!strcmp(arg, "NAME"))
		return "COMPREPLY=($(compgen -u -- \"$cur\"))";
	if (!strcmp(arg, "PID"))
		return "_pids";
	if (!strcmp(arg, "INUM"))	/* namespaces we can see */
		return "COMPREPLY=($(compgen -W \"$(stat -Lc %i /proc/[0-9]*/ns/net "
		       "/run/netns/* 2>/dev/null | sort -u)\" -- \"$cur\"))";
	return NULL;			/* a number or an address: nothing to offer */
}

/*
 * One command's options, indented by `in`: the argument after an option,
 * then the options themselves, then (not an option) the operand or the
 * subcommands (`words`, at the first word only).
 */
static void complete_command(FILE *out, int cmd, const char *in, const char *words)
{
	const char *operand = tf_command_operand(cmd);
	struct tf_option_doc d;

	fprintf(out, "%scase $prev in\n", in);
	/* options whose argument we can complete */
	for (int i = 0; !tf_options_doc(cmd, i, &d); i++) {
		const char *c = d.arg ? arg_completer(d.arg) : NULL;

		if (!c)
			continue;
		fprintf(out, "%s    ", in);
		if (d.short_name)
			fprintf(out, "-%c|", d.short_name);
		fprintf(out, "--%s)\n%s        %s\n%s        return\n%s        ;;\n", d.name, in, c,
			in, in);
	}
	/* the other options that take an argument: nothing to offer */
	fprintf(out, "%s    ", in);
	for (int i = 0, n = 0; !tf_options_doc(cmd, i, &d); i++) {
		if (!d.arg || arg_completer(d.arg))
			continue;
		if (d.short_name)
			fprintf(out, "%s-%c", n++ ? "|" : "", d.short_name);
		fprintf(out, "%s--%s", n++ ? "|" : "", d.name);
	}
	fprintf(out, ")\n%s        return\n%s        ;;\n%sesac\n\n"
		     "%s$split && return\n\n"
		     "%sif [[ $cur == -* ]]; then\n"
		     "%s    COMPREPLY=($(compgen -W '", in, in, in, in, in, in);
	for (int i = 0; !tf_options_doc(cmd, i, &d); i++) {
		fprintf(out, "%s--%s", i ? " " : "", d.name);
		if (d.short_name)
			fprintf(out, " -%c", d.short_name);
	}
	fputs("' -- \"$cur\"))\n", out);
	if (operand && arg_completer(operand))
		fprintf(out, "%selse\n%s    %s\n", in, in, arg_completer(operand));
	else if (words)
		fprintf(out, "%selif [[ $cword -eq 1 ]]; then\n"
			     "%s    COMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n", in, in, words);
	fprintf(out, "%sfi\n", in);
}

static void completion(FILE *out)
{
	char words[256] = "";
	size_t n = 0;

	fputs("# bash completion for tcpflow-trace(8)\n"
	      "# Generated from the option tables (src/options.c) by packaging/gendoc.c.\n\n"
	      "_tcpflow_trace()\n{\n"
	      "    local cur prev words cword split\n"
	      "    _init_completion -s || return\n\n", out);
	/* a subcommand's own options after its word */
	for (int cmd = 0; cmd < TF_CMD_MAX; cmd++) {
		const char *name = tf_command_name(cmd);

		if (!name)
			continue;
		n += (size_t)snprintf(words + n, n < sizeof(words) ? sizeof(words) - n : 0, "%s%s",
				      n ? " " : "", name);
		fprintf(out, "    if [[ $cword -gt 1 && ${words[1]} == %s ]]; then\n", name);
		complete_command(out, cmd, "        ", NULL);
		fputs("        return\n    fi\n\n", out);
	}
	complete_command(out, TF_CMD_TRACE, "    ", words);
	fputs("} &&\n"
	      "    complete -F _tcpflow_trace tcpflow-trace\n\n"
	      "# ex: filetype=sh\n", out);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "man"))
		return man(argv[2], argv[3], argv[4]);
	if (argc == 2 && !strcmp(argv[1], "completion")) {
		completion(stdout);
		return ferror(stdout) ? 1 : 0;
	}
	fprintf(stderr, "usage: gendoc man TEMPLATE VERSION DATE | gendoc completion\n");
	return 2;
}
