/* Tests for reports/html_report: the page parsed back with libxml2's HTML
 * parser; every section present with its data, absent sections saying so,
 * nothing that reaches for a network. (scripts/check-html renders the page
 * in headless Chromium.) */
#include "reports/html_report.h"

#include <criterion/criterion.h>
#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#include <string.h>

static const char bench_doc[] =
    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"suite\":\"kb_persistence\","
    "\"kbprof\":{\"version\":\"0.1.0\",\"commit\":\"0123456789ab\"},"
    "\"environment\":{\"cpu\":{\"model\":\"Test <CPU>\",\"threads\":2}},"
    "\"benchmarks\":[{\"name\":\"compile_small_kb\",\"status\":\"ok\",\"kb\":{\"label\":\"10K\","
    "\"rules\":40000},\"metrics\":[{\"name\":\"time\",\"unit\":\"ns\",\"samples\":[10,11,12],"
    "\"stats\":null}]},"
    "{\"name\":\"compile_large_kb\",\"status\":\"skipped\",\"error\":\"--quick\",\"metrics\":[]}],"
    "\"derived\":{\"scaling\":[{\"series\":\"compile\",\"metric\":\"time\",\"points\":["
    "{\"benchmark\":\"a\",\"label\":\"10K\",\"rules\":40000,\"median_ns\":1e7},"
    "{\"benchmark\":\"b\",\"label\":\"100K\",\"rules\":400000,\"median_ns\":1.1e8}],"
    "\"fit\":{\"n\":2,\"exponent\":1.04,\"coefficient\":160,\"r2\":1}}]}}";

static size_t count(xmlDocPtr doc, const char *xpath)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	size_t n = r && r->nodesetval ? (size_t)r->nodesetval->nodeNr : 0;
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return n;
}

static xmlDocPtr render(const struct html_input *in, struct kb_buf *out)
{
	struct kb_error err = {0};
	cr_assert_eq(html_report_render(in, out, &err), 0, "%s", err.msg);
	xmlDocPtr doc =
	    htmlReadMemory(out->data, (int)out->len, "report.html", "UTF-8",
			   HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
	cr_assert_not_null(doc);
	return doc;
}

Test(html, every_section_is_drawn_from_its_input)
{
	struct benchfile bf;
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(&bf, bench_doc, strlen(bench_doc), "b.json", &err), 0, "%s",
		     err.msg);
	struct fg_tree t;
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	const char *folded = "main;parse 3\nmain;eval 7\n";
	cr_assert_eq(fg_tree_parse_folded(&t, folded, strlen(folded), "f", &err), 0);
	struct html_hotspot rows[] = {{"eval", "/usr/bin/kbprof", 7, 7, 70.0, 70.0},
				      {"parse", "/usr/bin/kbprof", 3, 3, 30.0, 30.0}};
	struct html_hotspots hs = {"test", rows, 2};
	uint64_t b0[] = {1, 0, 5, 2}, b1[] = {0, 0, 4, 0};
	struct html_fault_series series[] = {{"all faults", b0, 8}, {"compile", b1, 4}};
	struct html_faults hf = {"test faults", 4000000, 4, series, 2};
	struct html_input in = {.title = "T & T",
				.bench = &bf,
				.hotspots = &hs,
				.flame = &t,
				.flame_source = "f",
				.faults = &hf};
	struct kb_buf out = {0};
	xmlDocPtr doc = render(&in, &out);
	cr_expect_eq(count(doc, "//title[.='T & T']"), 1);
	cr_expect_eq(count(doc, "//table[@id='bench-table']/tbody/tr"), 2);
	cr_expect_eq(count(doc, "//tr[@class='skipped']"), 1);
	cr_expect_eq(count(doc, "//svg[@id='scaling-chart']//circle[@class='point']"), 2);
	cr_expect_eq(count(doc, "//svg[@id='scaling-chart']//line[@class='fit']"), 1);
	cr_expect_eq(count(doc, "//table[@id='hotspot-table']/tbody/tr"), 2);
	cr_expect_eq(count(doc, "//svg[@id='flamegraph']//g[@class='fg-frame']"), 4);
	cr_expect_eq(count(doc, "//svg[@id='fault-timeline']//g[@class='fault-row']"), 2);
	cr_expect_eq(count(doc, "//svg[@id='fault-timeline']//rect[@class='bin']"), 4);
	cr_expect_eq(count(doc, "//table[@id='env-table']//td[.='Test <CPU>']"), 1);
	cr_expect_eq(count(doc, "//*[@class='absent']"), 0);
	/* Self-contained: nothing loaded from elsewhere. */
	cr_expect_eq(count(doc, "//link | //img | //iframe | //script[@src] | //*[@href and "
				"not(starts-with(@href, '#'))]"),
		     0);
	cr_expect_null(strstr(out.data, "http://"
					"w"
					"ww.w3.org/1999/xlink"));
	xmlFreeDoc(doc);
	kb_buf_free(&out);
	fg_tree_free(&t);
	benchfile_free(&bf);
}

Test(html, sections_without_input_say_so)
{
	struct html_input in = {0};
	struct kb_buf out = {0};
	xmlDocPtr doc = render(&in, &out);
	cr_expect_eq(count(doc, "//p[@class='absent']"), 6);
	cr_expect_eq(count(doc, "//svg"), 0);
	cr_expect(strstr(out.data, "Not in this report: no bench results given."));
	xmlFreeDoc(doc);
	kb_buf_free(&out);
}
