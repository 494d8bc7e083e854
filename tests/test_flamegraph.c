/* Tests for reports/flamegraph: folded-stack parsing, the stack tree, and
 * the SVG parsed back with libxml2 (well-formed, frame widths proportional
 * to sample counts, labels that fit, colours, differential shares). */
#include "reports/flamegraph.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static void tree_from(struct fg_tree *t, const char *folded)
{
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(t, &err), 0, "%s", err.msg);
	cr_assert_eq(fg_tree_parse_folded(t, folded, strlen(folded), "test", &err), 0, "%s",
		     err.msg);
}

/* The node at path "a;b;c" (root for ""), or 0 when absent. */
static uint32_t node_at(const struct fg_tree *t, const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	uint32_t n = 0;
	for (char *save = NULL, *f = strtok_r(buf, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		n = fg_tree_find_child(t, n, f);
		if (!n)
			return 0;
	}
	return n;
}

static xmlDocPtr parse_svg(const struct kb_buf *svg)
{
	cr_assert(svg->len > 0);
	xmlDocPtr doc = xmlReadMemory(svg->data, (int)svg->len, "flame.svg", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	cr_assert_not_null(doc, "the SVG is not well-formed XML");
	return doc;
}

struct frame {
	char name[256];
	char tip[512];
	double x, y, w;
	char fill[40];
	char label[256];
	int has_label;
};

static char *attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	cr_assert_not_null(v, "missing attribute %s", name);
	char *s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static double num_attr(xmlNodePtr n, const char *name)
{
	char *s = attr(n, name);
	double v = strtod(s, NULL);
	free(s);
	return v;
}

/* Reads every frame group back from the document. */
static size_t read_frames(xmlDocPtr doc, struct frame *out, size_t cap)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"s",
			   (const xmlChar *)"http://www.w3.org/2000/svg");
	xmlXPathObjectPtr res =
	    xmlXPathEvalExpression((const xmlChar *)"//s:g[@class='fg-frame']", ctx);
	cr_assert_not_null(res);
	size_t n = res->nodesetval ? (size_t)res->nodesetval->nodeNr : 0;
	cr_assert_leq(n, cap);
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++) {
		struct frame *f = &out[i];
		memset(f, 0, sizeof *f);
		for (xmlNodePtr c = res->nodesetval->nodeTab[i]->children; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			if (strcmp((const char *)c->name, "title") == 0) {
				xmlChar *t = xmlNodeGetContent(c);
				snprintf(f->tip, sizeof f->tip, "%s", (const char *)t);
				xmlFree(t);
				char *paren = strrchr(f->tip, '(');
				cr_assert_not_null(paren);
				size_t len = (size_t)(paren - f->tip) - 1;
				memcpy(f->name, f->tip, len);
				f->name[len] = '\0';
			} else if (strcmp((const char *)c->name, "rect") == 0) {
				f->x = num_attr(c, "x");
				f->y = num_attr(c, "y");
				f->w = num_attr(c, "width");
				char *fill = attr(c, "fill");
				snprintf(f->fill, sizeof f->fill, "%s", fill);
				free(fill);
			} else if (strcmp((const char *)c->name, "text") == 0) {
				xmlChar *t = xmlNodeGetContent(c);
				snprintf(f->label, sizeof f->label, "%s", (const char *)t);
				xmlFree(t);
				f->has_label = 1;
			}
		}
	}
	xmlXPathFreeObject(res);
	xmlXPathFreeContext(ctx);
	return n;
}

__attribute__((noinline)) static const struct frame *find_frame(const struct frame *f, size_t n,
								const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

/* Looks a frame up among the first n of array f, never past its end. */
#define frame_named(f, n, name)                                                                    \
	find_frame((f), (n) < sizeof(f) / sizeof((f)[0]) ? (n) : sizeof(f) / sizeof((f)[0]), (name))

static const char sample[] = "main;parse;lex 30\n"
			     "main;parse;intern 10\n"
			     "main;eval 55\n"
			     "main 5\n";

/* ---- the tree ---- */

Test(flamegraph, folded_stacks_build_totals_and_self_counts)
{
	struct fg_tree t;
	tree_from(&t, sample);
	cr_expect_eq(t.nodes[0].total, 100);
	cr_expect_eq(t.nodes[node_at(&t, "main")].total, 100);
	cr_expect_eq(t.nodes[node_at(&t, "main")].self, 5);
	cr_expect_eq(t.nodes[node_at(&t, "main;parse")].total, 40);
	cr_expect_eq(t.nodes[node_at(&t, "main;parse")].self, 0);
	cr_expect_eq(t.nodes[node_at(&t, "main;parse;lex")].self, 30);
	cr_expect_eq(t.nodes[node_at(&t, "main;eval")].total, 55);
	cr_expect_eq(node_at(&t, "main;lex"), 0);
	cr_expect_eq(t.max_depth, 3);
	fg_tree_free(&t);
}

Test(flamegraph, repeated_stacks_merge_and_blank_lines_are_skipped)
{
	struct fg_tree t;
	tree_from(&t, "\n  a;b 3\r\n\na;b\t4  \n\t\n");
	cr_expect_eq(t.nodes[node_at(&t, "a;b")].total, 7);
	cr_expect_eq(t.n_nodes, 3);
	fg_tree_free(&t);
}

Test(flamegraph, stacks_added_one_by_one_equal_the_parsed_ones)
{
	struct fg_tree a, b;
	struct kb_error err;
	tree_from(&a, sample);
	cr_assert_eq(fg_tree_init(&b, &err), 0);
	const char *s1[] = {"main", "parse", "lex"}, *s2[] = {"main", "parse", "intern"},
		   *s3[] = {"main", "eval"}, *s4[] = {"main"};
	cr_assert_eq(fg_tree_add(&b, s1, 3, 30, &err), 0);
	cr_assert_eq(fg_tree_add(&b, s2, 3, 10, &err), 0);
	cr_assert_eq(fg_tree_add(&b, s3, 2, 55, &err), 0);
	cr_assert_eq(fg_tree_add(&b, s4, 1, 5, &err), 0);
	struct kb_buf sa = {0}, sb = {0};
	cr_assert_eq(fg_render_svg(&a, NULL, &sa, &err), 0, "%s", err.msg);
	cr_assert_eq(fg_render_svg(&b, NULL, &sb, &err), 0, "%s", err.msg);
	cr_expect_str_eq(sa.data, sb.data);
	kb_buf_free(&sa);
	kb_buf_free(&sb);
	fg_tree_free(&a);
	fg_tree_free(&b);
}

Test(flamegraph, reports_a_line_without_a_count_with_its_number)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	const char *text = "a;b 1\na;c\n";
	cr_expect_eq(fg_tree_parse_folded(&t, text, strlen(text), "p.folded", &err), -1);
	cr_expect(strstr(err.msg, "p.folded:2: no sample count"), "%s", err.msg);
	fg_tree_free(&t);
}

Test(flamegraph, rejects_counts_glued_to_names_bare_counts_and_overflow)
{
	static const char *bad[][2] = {
	    {"a;b12\n", "no sample count"},
	    {"12\n", "no stack"},
	    {"a 99999999999999999999\n", "too large"},
	    {"a 18446744073709551615\nb 1\n", "overflow"},
	    {"a 1.5\n", "no sample count"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct fg_tree t;
		struct kb_error err = {0};
		cr_assert_eq(fg_tree_init(&t, &err), 0);
		cr_expect_eq(fg_tree_parse_folded(&t, bad[i][0], strlen(bad[i][0]), "x", &err), -1,
			     "accepted %s", bad[i][0]);
		cr_expect(strstr(err.msg, bad[i][1]), "'%s' gave '%s'", bad[i][0], err.msg);
		fg_tree_free(&t);
	}
}

Test(flamegraph, reports_a_missing_file)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	cr_expect_eq(fg_tree_load_folded(&t, "/nonexistent/p.folded", &err), -1);
	cr_expect(strstr(err.msg, "/nonexistent/p.folded: No such file"), "%s", err.msg);
	fg_tree_free(&t);
}

Test(flamegraph, a_large_tree_keeps_every_distinct_path)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	char a[32], b[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(a, sizeof a, "f%d", i % 300);
		snprintf(b, sizeof b, "g%d", i);
		const char *st[] = {a, b};
		cr_assert_eq(fg_tree_add(&t, st, 2, 1, &err), 0);
	}
	cr_expect_eq(t.n_nodes, 1 + 300 + 3000);
	cr_expect_eq(t.nodes[node_at(&t, "f7")].total, 10);
	cr_expect_eq(t.nodes[node_at(&t, "f7;g307")].total, 1);
	fg_tree_free(&t);
}

/* ---- the SVG ---- */

Test(flamegraph, svg_is_well_formed_and_widths_follow_counts)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, sample);
	struct kb_buf svg = {0};
	struct fg_opts o = {.width = 1000};
	cr_assert_eq(fg_render_svg(&t, &o, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	cr_expect_str_eq((const char *)xmlDocGetRootElement(doc)->name, "svg");
	struct frame f[16];
	size_t n = read_frames(doc, f, 16);
	cr_expect_eq(n, 6); /* all, main, eval, parse, intern, lex */
	double full = 1000 - 2 * FG_XPAD;
	static const struct {
		const char *name;
		double count;
	} want[] = {{"all", 100}, {"main", 100},  {"parse", 40},
		    {"lex", 30},  {"intern", 10}, {"eval", 55}};
	for (size_t i = 0; i < 6; i++) {
		const struct frame *fr = frame_named(f, n, want[i].name);
		cr_assert_not_null(fr, "no frame %s", want[i].name);
		cr_expect(fabs(fr->w - want[i].count / 100 * full) < 0.01, "%s: width %f",
			  want[i].name, fr->w);
	}
	/* Children in name order from the parent's left edge: eval, then parse;
	 * under parse, intern then lex. */
	const struct frame *eval = frame_named(f, n, "eval"), *parse = frame_named(f, n, "parse");
	const struct frame *intern = frame_named(f, n, "intern"), *lex = frame_named(f, n, "lex");
	cr_expect(fabs(eval->x - FG_XPAD) < 0.01);
	cr_expect(fabs(parse->x - (FG_XPAD + 0.55 * full)) < 0.01);
	cr_expect(fabs(intern->x - parse->x) < 0.01);
	cr_expect(fabs(lex->x - (intern->x + intern->w)) < 0.01);
	/* Deeper frames sit higher, one frame height apart. */
	cr_expect(fabs(frame_named(f, n, "main")->y - parse->y - 16) < 0.01);
	cr_expect(fabs(parse->y - lex->y - 16) < 0.01);
	cr_expect(strstr(lex->tip, "lex (30 samples, 30.00%)"), "%s", lex->tip);
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, labels_are_trimmed_to_fit_their_frames)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, "main;a_function_with_a_rather_long_name_indeed 4\n"
		      "main;tiny 1\n"
		      "main;wide_enough 95\n");
	struct kb_buf svg = {0};
	struct fg_opts o = {.width = 800, .font_size = 10};
	cr_assert_eq(fg_render_svg(&t, &o, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	struct frame f[8];
	size_t n = read_frames(doc, f, 8);
	double char_w = 10 * 0.59;
	for (size_t i = 0; i < n; i++) {
		if (!f[i].has_label)
			continue;
		cr_expect_leq(strlen(f[i].label) * char_w, f[i].w, "%s does not fit %f", f[i].label,
			      f[i].w);
	}
	const struct frame *longf = frame_named(f, n, "a_function_with_a_rather_long_name_indeed");
	cr_assert_not_null(longf);
	cr_assert(longf->has_label); /* 4% of 780 px: four characters */
	cr_expect(strstr(longf->label, ".."), "%s", longf->label);
	cr_expect_str_eq(longf->label, "a_..");
	const struct frame *tiny = frame_named(f, n, "tiny"),
			   *wide = frame_named(f, n, "wide_enough");
	cr_assert(tiny && wide);
	cr_expect_not(tiny->has_label, "a 7.8 px frame has no label");
	cr_expect_str_eq(wide->label, "wide_enough");
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, frames_below_the_minimum_width_are_left_out)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, "main;big 999999\nmain;small;deeper 1\n");
	struct kb_buf svg = {0};
	cr_assert_eq(fg_render_svg(&t, NULL, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	struct frame f[8];
	size_t n = read_frames(doc, f, 8);
	cr_expect_eq(n, 3);
	cr_expect_null(frame_named(f, n, "small"));
	cr_expect_null(frame_named(f, n, "deeper"));
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, markup_and_invalid_utf8_in_names_stay_well_formed)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, "main;operator<<(std::ostream&, \"x\") 10\n"
		      "main;bad\xff\xfe\x01name 10\n"
		      "main;caf\xc3\xa9_\xe2\x86\x92 10\n");
	struct kb_buf svg = {0};
	cr_assert_eq(fg_render_svg(&t, NULL, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	struct frame f[8];
	size_t n = read_frames(doc, f, 8);
	cr_expect_not_null(frame_named(f, n, "operator<<(std::ostream&, \"x\")"));
	cr_expect_not_null(frame_named(f, n, "bad???name"));
	cr_expect_not_null(frame_named(f, n, "caf\xc3\xa9_\xe2\x86\x92"));
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, colours_depend_on_the_name_only)
{
	struct fg_tree a, b;
	struct kb_error err = {0};
	tree_from(&a, "main;eval;match 10\nmain;parse 10\n");
	tree_from(&b, "x;y;z;match 3\nmain 7\n");
	struct kb_buf sa = {0}, sb = {0};
	cr_assert_eq(fg_render_svg(&a, NULL, &sa, &err), 0);
	cr_assert_eq(fg_render_svg(&b, NULL, &sb, &err), 0);
	xmlDocPtr da = parse_svg(&sa), db = parse_svg(&sb);
	struct frame fa[8], fb[8];
	size_t na = read_frames(da, fa, 8), nb = read_frames(db, fb, 8);
	cr_expect_str_eq(frame_named(fa, na, "match")->fill, frame_named(fb, nb, "match")->fill);
	cr_expect_str_eq(frame_named(fa, na, "main")->fill, frame_named(fb, nb, "main")->fill);
	cr_expect_str_neq(frame_named(fa, na, "eval")->fill, frame_named(fa, na, "parse")->fill);
	xmlFreeDoc(da);
	xmlFreeDoc(db);
	kb_buf_free(&sa);
	kb_buf_free(&sb);
	fg_tree_free(&a);
	fg_tree_free(&b);
}

Test(flamegraph, carries_its_search_and_zoom_script_scoped_to_its_id)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, sample);
	struct kb_buf svg = {0};
	struct fg_opts o = {
	    .id = "graph-2", .embed = 1, .title = "Hot <paths>", .subtitle = "task-clock"};
	cr_assert_eq(fg_render_svg(&t, &o, &svg, &err), 0, "%s", err.msg);
	cr_expect_eq(strncmp(svg.data, "<svg id=\"graph-2\"", 17), 0, "embedded: no prolog");
	cr_expect(strstr(svg.data, "getElementById('graph-2')"));
	cr_expect(strstr(svg.data, "class=\"fg-search fg-ctl\""));
	cr_expect(strstr(svg.data, "Hot &lt;paths&gt;"));
	cr_expect(strstr(svg.data, ">task-clock</text>"));
	cr_expect_null(strstr(svg.data, "http://"
					"www.w3.org/1999/xlink"));
	xmlDocPtr doc = parse_svg(&svg);
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, rejects_ids_that_would_break_the_script)
{
	struct fg_tree t;
	struct kb_error err = {0};
	tree_from(&t, sample);
	struct kb_buf svg = {0};
	struct fg_opts o = {.id = "x');alert(1);//"};
	cr_expect_eq(fg_render_svg(&t, &o, &svg, &err), -1);
	cr_expect(strstr(err.msg, "is not 1-64 characters"), "%s", err.msg);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, an_empty_profile_is_an_error)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	struct kb_buf svg = {0};
	cr_expect_eq(fg_render_svg(&t, NULL, &svg, &err), -1);
	cr_expect(strstr(err.msg, "no samples"), "%s", err.msg);
	kb_buf_free(&svg);
	fg_tree_free(&t);
}

Test(flamegraph, deep_stacks_render_without_recursion)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	struct kb_buf line = {0};
	for (int i = 0; i < 5000; i++)
		kb_buf_printf(&line, "%sf%d", i ? ";" : "", i % 7);
	kb_buf_puts(&line, " 3\n");
	cr_assert_eq(fg_tree_parse_folded(&t, line.data, line.len, "deep", &err), 0, "%s", err.msg);
	cr_expect_eq(t.max_depth, 5000);
	struct kb_buf svg = {0};
	cr_assert_eq(fg_render_svg(&t, NULL, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	kb_buf_free(&line);
	fg_tree_free(&t);
}

/* ---- differential ---- */

Test(flamegraph, differential_colours_grown_frames_red_and_shrunk_ones_blue)
{
	struct fg_tree base, now;
	struct kb_error err = {0};
	tree_from(&base, "main;grows 20\nmain;shrinks 60\nmain;same 20\nmain;gone 0\n"
			 "main;gone;x 5\n");
	tree_from(&now, "main;grows 50\nmain;shrinks 30\nmain;same 20\nmain;fresh 100\n");
	struct kb_buf svg = {0};
	struct fg_opts o = {.width = 1000};
	cr_assert_eq(fg_render_diff_svg(&base, &now, &o, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	struct frame f[16];
	size_t n = read_frames(doc, f, 16);
	/* Shape from the new profile: 200 samples. */
	const struct frame *grows = frame_named(f, n, "grows"),
			   *shrinks = frame_named(f, n, "shrinks");
	const struct frame *same = frame_named(f, n, "same"), *fresh = frame_named(f, n, "fresh");
	cr_assert(grows && shrinks && same && fresh);
	cr_expect_null(frame_named(f, n, "gone"));
	cr_expect(fabs(grows->w - 50.0 / 200 * 980) < 0.01, "%f", grows->w);
	/* Shares: grows 19.05% -> 25%; shrinks 57.14% -> 15%; same 19.05% -> 10%;
	 * fresh 0 -> 50% (the largest change: fully red). */
	cr_expect_str_eq(fresh->fill, "rgb(255,40,40)");
	int r, g, b;
	cr_assert_eq(sscanf(grows->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	cr_expect(r == 255 && g == b && g > 40 && g < 228, "%s", grows->fill);
	cr_assert_eq(sscanf(shrinks->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	cr_expect(b == 255 && r == g && r < 228, "%s", shrinks->fill);
	cr_expect(strstr(grows->tip, "25.00%; base 19.05%, +5.95 points"), "%s", grows->tip);
	cr_expect(strstr(shrinks->tip, "-42.14 points"), "%s", shrinks->tip);
	cr_expect(strstr(fresh->tip, "base none, new frame"), "%s", fresh->tip);
	cr_expect(strstr(svg.data, "2 base frames gone"));
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&base);
	fg_tree_free(&now);
}

Test(flamegraph, differential_of_a_profile_with_itself_is_all_white)
{
	struct fg_tree a, b;
	struct kb_error err = {0};
	tree_from(&a, sample);
	tree_from(&b, sample);
	struct kb_buf svg = {0};
	cr_assert_eq(fg_render_diff_svg(&a, &b, NULL, &svg, &err), 0, "%s", err.msg);
	xmlDocPtr doc = parse_svg(&svg);
	struct frame f[16];
	size_t n = read_frames(doc, f, 16);
	cr_expect_eq(n, 6);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(f[i].fill, "rgb(228,228,228)", "%s", f[i].name);
	xmlFreeDoc(doc);
	kb_buf_free(&svg);
	fg_tree_free(&a);
	fg_tree_free(&b);
}

/* ---- the command ---- */

Test(flamegraph, cli_draws_plain_and_differential_graphs_and_rejects_bad_input)
{
	char *dir = make_temp_dir();
	char a[512], b[512], out[512];
	snprintf(a, sizeof a, "%s/a.folded", dir);
	snprintf(b, sizeof b, "%s/b.folded", dir);
	snprintf(out, sizeof out, "%s/d.svg", dir);
	cr_assert_eq(write_file(a, sample, strlen(sample)), 0);
	const char *other = "main;eval 80\nmain;parse;lex 20\n";
	cr_assert_eq(write_file(b, other, strlen(other)), 0);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "flamegraph", a, NULL), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	struct kb_buf svg = {.data = r.out, .len = r.out_len};
	xmlFreeDoc(parse_svg(&svg));
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "flamegraph", "--diff", a, b, "-o", out, NULL), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	size_t len;
	char *text = read_file(out, &len);
	cr_assert_not_null(text);
	cr_expect(strstr(text, "eval (80 samples, 80.00%; base 55.00%, +25.00 points)"));
	free(text);
	cr_assert_eq(run_kbprof(&r, NULL, "flamegraph", "/nonexistent.folded", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "/nonexistent.folded: No such file"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "flamegraph", "--width", "5", a, NULL), 0);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}
