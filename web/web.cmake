# web.cmake - compiles the dashboard into mcmcserver: every web/*.html,
# *.js and *.css file and uPlot's browser build (the npm package pinned by
# tools/web, which ./dev installs) become byte arrays in a generated C
# file (web/embed.cmake) that server/web_assets.c serves. Included from
# server/CMakeLists.txt.
set(uplot_dist ${PROJECT_SOURCE_DIR}/tools/web/node_modules/uplot/dist)
foreach(f uPlot.iife.min.js uPlot.min.css)
  if(NOT EXISTS ${uplot_dist}/${f})
    message(FATAL_ERROR "the dashboard needs uPlot (${uplot_dist}/${f} is missing): "
                        "run ./dev build, or npm ci --prefix tools/web")
  endif()
endforeach()
file(GLOB web_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/web/*.html
     ${PROJECT_SOURCE_DIR}/web/*.js ${PROJECT_SOURCE_DIR}/web/*.css)
list(APPEND web_files ${uplot_dist}/uPlot.iife.min.js ${uplot_dist}/uPlot.min.css)
string(REPLACE ";" "|" web_files_arg "${web_files}")
set(web_out ${CMAKE_CURRENT_BINARY_DIR}/web_assets_data.c)
add_custom_command(
  OUTPUT ${web_out}
  COMMAND ${CMAKE_COMMAND} -DOUT=${web_out} -DFILES=${web_files_arg}
          -P ${PROJECT_SOURCE_DIR}/web/embed.cmake
  DEPENDS ${web_files} ${PROJECT_SOURCE_DIR}/web/embed.cmake
  COMMENT "Compiling the dashboard (web/, uPlot) into mcmcd"
  VERBATIM)
target_sources(mcmcserver PRIVATE ${web_out})
